def weighted_score(named_scores, context):
    """Accuracy counts three times as much as brevity."""
    weights = {"accuracy": 3.0, "brevity": 1.0}
    total = sum(weights.get(name, 1.0) * score for name, score in named_scores.items())
    weight = sum(weights.get(name, 1.0) for name in named_scores)
    score = total / weight if weight else 0.0
    threshold = context.get("threshold") or 0.75
    return {"pass": score >= threshold, "score": score, "reason": f"weighted score {score:.2f}"}


def accuracy_only(named_scores, context):
    score = named_scores.get("accuracy", 0.0)
    return {"pass": score > 0.5, "score": score, "reason": "accuracy only"}
