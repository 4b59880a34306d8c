"""Async httpx clients for HubSpot and Salesforce; nothing above them sees HTTP.

Public surface: `HubSpotClient`, `SalesforceClient`, the records they return
(`RemoteRecord`, `RecordPage`, `WriteResult`, `AssociationLink`, `CallCounter`), and the
transport pieces (`RetryPolicy`, `Governor`).
"""
