"""Diamond pricing: the record, its validation, the model and how it is made and stored."""
