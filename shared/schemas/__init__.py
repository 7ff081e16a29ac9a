"""Request and response models of API.md, one module per resource."""
