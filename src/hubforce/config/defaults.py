"""The default configuration written by `hubforce init` and used by the demo.

It follows HubSpot's native Salesforce connector: contacts sync with Leads and Contacts (new
HubSpot contacts become Leads), companies with Accounts, deals with Opportunities, owners with
Users by e-mail, with the connector's default field mappings and rules.
"""

from __future__ import annotations

DEFAULT_CONFIG_YAML = """\
# hubforce configuration: two-way sync between HubSpot and Salesforce.
# Validate it with `hubforce validate`; the JSON Schema is printed by `hubforce schema`.
version: 1

# Secrets are never written here: write ${ENV_VAR} and export the variable.
connections:
  hubspot:
    base_url: https://api.hubapi.com
    token: ${HUBSPOT_TOKEN}            # a private-app token; or, for an OAuth app:
    # oauth:
    #   client_id: your-app-client-id
    #   client_secret: ${HUBSPOT_CLIENT_SECRET}
    #   refresh_token: ${HUBSPOT_REFRESH_TOKEN}
  salesforce:
    login_url: https://login.salesforce.com   # https://test.salesforce.com for a sandbox
    api_version: "62.0"
    oauth:                             # refresh token of a connected app; or jwt / password:
      client_id: your-connected-app-consumer-key
      client_secret: ${SALESFORCE_CLIENT_SECRET}
      refresh_token: ${SALESFORCE_REFRESH_TOKEN}
    # jwt:
    #   client_id: your-connected-app-consumer-key
    #   username: integration@example.com
    #   private_key_file: salesforce-jwt.key
    # password:
    #   username: integration@example.com
    #   password: ${SALESFORCE_PASSWORD}
    #   security_token: ${SALESFORCE_SECURITY_TOKEN}
  store:
    url: sqlite:///hubforce.db         # or ${HUBFORCE_STORE_URL} for postgresql+psycopg://...

# Rules per field: two_way (newest change wins), prefer_salesforce_unless_blank,
# always_salesforce, always_hubspot, prefer_hubspot_unless_blank, dont_sync.
objects:
  owners:                              # HubSpot owners <-> Salesforce Users, matched by e-mail
    hubspot: owners
    salesforce: [User]
    create_in_hubspot: false
    match_on: [email]
    fields:
      - {hubspot: email, salesforce: Email, type: email, rule: always_salesforce}

  companies:
    hubspot: companies
    salesforce: [Account]
    create_as: Account
    match_on: [domain, name]           # website domain first, then the company name
    delete_policy: unlink
    fields:
      - {hubspot: name, salesforce: Name, max_length: 255}
      - {hubspot: website, salesforce: Website, max_length: 255}
      - {hubspot: phone, salesforce: Phone, max_length: 40}
      - {hubspot: description, salesforce: Description, max_length: 32000}
      - {hubspot: address, salesforce: BillingStreet, max_length: 255}
      - {hubspot: city, salesforce: BillingCity, max_length: 40}
      - {hubspot: state, salesforce: BillingState, max_length: 80}
      - {hubspot: zip, salesforce: BillingPostalCode, max_length: 20}
      - {hubspot: country, salesforce: BillingCountry, max_length: 80}
      - {hubspot: numberofemployees, salesforce: NumberOfEmployees, type: number}
      - {hubspot: annualrevenue, salesforce: AnnualRevenue, type: number}
      - {hubspot: hubspot_owner_id, salesforce: OwnerId, type: owner,
         rule: prefer_salesforce_unless_blank}
      - hubspot: industry
        salesforce: Industry
        type: enumeration
        picklist:                      # HubSpot option value: Salesforce picklist value
          COMPUTER_SOFTWARE: Technology
          FINANCIAL_SERVICES: Finance
          HOSPITAL_HEALTH_CARE: Healthcare
          MACHINERY: Manufacturing
          RETAIL: Retail
          EDUCATION_MANAGEMENT: Education
          OIL_ENERGY: Energy
          MANAGEMENT_CONSULTING: Consulting
          ACCOUNTING: Finance
          CONSTRUCTION: Other
        picklist_to_hubspot:           # Salesforce values with no HubSpot twin
          Agriculture: CONSTRUCTION
          Banking: FINANCIAL_SERVICES
          Media: COMPUTER_SOFTWARE
          Telecommunications: COMPUTER_SOFTWARE
          Other: CONSTRUCTION

  contacts:
    hubspot: contacts
    salesforce: [Lead, Contact]        # Contacts are always matched and followed
    create_as: Lead                    # new HubSpot contacts become Leads
    match_on: [email]
    assign: false                      # true: run Lead assignment rules on create
    delete_policy: unlink
    # external_id: HubSpot_Id__c       # a Salesforce external-id field for the HubSpot id
    # inclusion:                       # only these HubSpot contacts are pushed to Salesforce
    #   all:
    #     - {property: email, operator: is_known}
    #     - {property: lifecyclestage, operator: in, values: [lead, salesqualifiedlead]}
    defaults:
      Lead: {Company: "[not provided]", LastName: "[not provided]"}
      Contact: {LastName: "[not provided]"}
    fields:
      # Seed workflow 2, "an e-mail changed on either side shows up on the other side", is
      # this two-way mapping: `hubforce run` carries it in seconds (HubSpot webhooks one way,
      # the Salesforce SystemModstamp poll the other), the reconcile as a safety net. It is
      # not a workflow: a workflow writing the same field would race the sync.
      - {hubspot: email, salesforce: Email, type: email}
      - {hubspot: firstname, salesforce: FirstName, max_length: 40}
      - {hubspot: lastname, salesforce: LastName, max_length: 80}
      - {hubspot: jobtitle, salesforce: Title, max_length: 128}
      - {hubspot: phone, salesforce: Phone, max_length: 40}
      - {hubspot: mobilephone, salesforce: MobilePhone, max_length: 40}
      - {hubspot: company, salesforce: Company, objects: [Lead], max_length: 255}
      - {hubspot: website, salesforce: Website, objects: [Lead], max_length: 255}
      - {hubspot: annualrevenue, salesforce: AnnualRevenue, objects: [Lead], type: number}
      - hubspot: address
        salesforce: {Lead: Street, Contact: MailingStreet}
        max_length: 255
      - hubspot: city
        salesforce: {Lead: City, Contact: MailingCity}
        max_length: 40
      - hubspot: state
        salesforce: {Lead: State, Contact: MailingState}
        max_length: 80
      - hubspot: zip
        salesforce: {Lead: PostalCode, Contact: MailingPostalCode}
        max_length: 20
      - hubspot: country
        salesforce: {Lead: Country, Contact: MailingCountry}
        max_length: 80
      - {hubspot: hs_email_optout, salesforce: HasOptedOutOfEmail, type: boolean}
      - {hubspot: hubspot_owner_id, salesforce: OwnerId, type: owner,
         rule: prefer_salesforce_unless_blank}
      - hubspot: hs_lead_status
        salesforce: Status
        objects: [Lead]
        type: enumeration
        rule: prefer_salesforce_unless_blank
        picklist:
          NEW: Open - Not Contacted
          OPEN: Open - Not Contacted
          IN_PROGRESS: Working - Contacted
          CONNECTED: Working - Contacted
          OPEN_DEAL: Working - Contacted
          UNQUALIFIED: Closed - Not Converted
        picklist_to_hubspot:
          Open - Not Contacted: NEW
          Working - Contacted: IN_PROGRESS
          Closed - Converted: OPEN_DEAL
    associations:                      # the contact's primary company <-> Contact.AccountId
      - {hubspot: companies, salesforce: AccountId, pair: companies, objects: [Contact]}

  deals:
    hubspot: deals
    salesforce: [Opportunity]
    create_as: Opportunity
    match_on: [name]
    delete_policy: unlink
    defaults:
      deals: {pipeline: default}       # the HubSpot pipeline new deals go to
    fields:
      - {hubspot: dealname, salesforce: Name, max_length: 120}
      - {hubspot: amount, salesforce: Amount, type: number}
      - {hubspot: closedate, salesforce: CloseDate, transform: datetime_to_date}
      - {hubspot: description, salesforce: Description, max_length: 32000}
      - {hubspot: hubspot_owner_id, salesforce: OwnerId, type: owner,
         rule: prefer_salesforce_unless_blank}
      - hubspot: dealstage             # stages of the HubSpot "default" pipeline
        salesforce: StageName
        type: enumeration
        picklist:
          appointmentscheduled: Prospecting
          qualifiedtobuy: Qualification
          presentationscheduled: Needs Analysis
          decisionmakerboughtin: Proposal/Price Quote
          contractsent: Negotiation/Review
          closedwon: Closed Won
          closedlost: Closed Lost
    associations:                      # the deal's company <-> Opportunity.AccountId
      - {hubspot: companies, salesforce: AccountId, pair: companies}

schedule:
  reconcile_seconds: 900               # a full reconcile every 15 minutes
  salesforce_poll_seconds: 30          # Salesforce has no webhooks: poll for changes
  webhooks: true                       # HubSpot changes arrive by webhook in real time
  workflow_lease_seconds: 900          # a workflow run silent this long died with its process

budgets:                               # share of each side's daily API limit hubforce may use
  hubspot: {daily_share: 0.5}
  salesforce: {daily_share: 0.5}

alerts:
  # slack_webhook_url: ${SLACK_WEBHOOK_URL}
  on_recovery: true

# `hubforce run`: where it listens and the secrets it checks requests against. The flags
# --host, --port and --public-url win over these; the environment variables
# HUBFORCE_WEBHOOK_SECRET, HUBFORCE_HOOK_TOKEN and HUBFORCE_SALESFORCE_ORG_ID, when set,
# win over the secrets below.
server:
  host: 127.0.0.1
  port: 8080
  # public_url: https://hubforce.example.com    # the base URL HubSpot posts webhooks to
  # webhook_secret: ${HUBFORCE_WEBHOOK_SECRET}  # the HubSpot app's client secret; default:
  #                                             # connections.hubspot.oauth.client_secret
  # hook_token: ${HUBFORCE_HOOK_TOKEN}          # bearer token of POST /hooks/sync (else off)
  # salesforce_org_id: 00D000000000000AAA       # accept outbound messages from this org only

workflows:                             # run by `hubforce run` (trigger -> condition -> actions)
  # Seed workflow 1: a "Contact us" submission becomes a Lead the assignment rules give to a
  # rep. (Seed workflow 2, e-mail changes both ways, is the contacts `email` mapping above.)
  - name: form-to-lead
    trigger:
      type: hubspot.form_submitted
      form: 0d6a3b52-1c4e-4f7a-9b2d-3e5f6a7b8c90   # your form's GUID
      form_name: Contact us            # optional: skips the submissions API call for other names
    condition: 'email is not empty and lifecyclestage != "customer"'
    actions:
      - type: salesforce.create
        sobject: Lead
        values:
          FirstName: "{firstname}"
          LastName: "{lastname|[not provided]}"     # required by Salesforce
          Company: "{company|[not provided]}"
          Email: "{email}"
          Phone: "{phone}"
          LeadSource: Web
        assignment: true               # Sforce-Auto-Assign: TRUE, or an assignment rule id

  # A won Opportunity makes its HubSpot deal's company and contacts customers. The record
  # read for a Salesforce trigger carries its linked twin's id (`hubspot_id`: the deal, from
  # the store's links); an Opportunity with no HubSpot deal yet is skipped (the run says so).
  - name: closed-won-customer
    trigger:
      type: salesforce.record_changed
      sobject: Opportunity
      on: updated
      where: 'StageName = "Closed Won"'
    condition: 'hubspot_id is not empty'
    actions:
      - type: hubspot.update
        object_type: deals
        record_id: "{hubspot_id}"
        associated: [companies, contacts]   # the deal's associated records, not the deal
        values:
          lifecyclestage: customer
"""
