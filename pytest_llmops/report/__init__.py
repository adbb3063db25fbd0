"""Reports: the terminal section, JSON (with its schema), Markdown, HTML and JUnit properties."""
