"""Offloading: ModelDeployment and Policy, and the Envoy gateway they configure."""
