"""Governance service: policies, promotions, orphaned and redundant models, drift monitoring."""
