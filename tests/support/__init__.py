"""Test helpers that stand in for AWS: an EventBridge emulator, an SSM Automation simulator, fake clients, and the
self-healing scenario the runbook tests share. Imported by tests only; nothing in ``llm_observability`` uses them.
"""
