"""The PDF documents of the organisation: the shared layout and one module per document."""
