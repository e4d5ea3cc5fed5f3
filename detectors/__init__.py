"""AI-generated video detectors, provenance marks and the moderation API."""
