"""Data: the Example type, file formats, and seeded stratified splits."""
