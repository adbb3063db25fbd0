module.exports = (namedScores, context) => {
  const score = namedScores.accuracy ?? 0;
  return { pass: score > 0.5, score, reason: 'accuracy only' };
};
