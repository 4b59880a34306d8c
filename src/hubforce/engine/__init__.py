"""The imperative shell that drives the pure sync core: read, match, plan, write, record.

Following one cycle: `cycle.run_cycle` -> `reading` (changes since cursors) -> `identity`
(conversions, merges) -> `matching` (link before create) -> `hubforce.sync.plan` -> `writing`
(batches, intents) -> `bookkeeping` (links, snapshots, audit, failures and cursors in one
transaction).
"""
