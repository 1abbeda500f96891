"""Code shared by every conduit service."""
