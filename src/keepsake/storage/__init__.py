"""Database engines and migrations, the BlobStore and other swappable storage backends."""
