"""Salesforce REST API connector."""
