"""HubSpot CRM API v3/v4 connector."""
