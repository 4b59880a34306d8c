"""Local emulators of the HubSpot and Salesforce APIs (FastAPI apps, in memory).

The sync engine never imports this package: it reaches the emulators over HTTP, by base URL.
"""
