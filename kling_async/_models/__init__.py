"""Request classes (validated at construction) and task results."""
