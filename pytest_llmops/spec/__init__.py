"""What users write: YAML with line numbers, the pydantic models, and readable validation errors."""
