"""aa-notebooks."""
