"""The Salesforce REST/SOAP/Bulk API emulator."""
