"""Intent service: classifies the request by nearest intent centroid and extracts entities."""
