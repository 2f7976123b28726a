"""A small app with roll-ups, lookups and rules over two linked forms, for the tests here."""

APP = """\
key: sales
version: "1"
label: Sales
roles:
  - {key: staff, label: Staff}
include:
  forms: [forms/*.yaml]
"""

ACCOUNT = """\
key: account
label: Account
title_field: name
fields:
  - {key: name, type: text, label: Name, required: true}
  - {key: region, type: text, label: Region}
  - {key: credit, type: money, label: Credit limit}
  - {key: deal_count, type: rollup, label: Deals, form: deal, link: account, aggregate: count}
  - key: won_total
    type: rollup
    label: Won
    form: deal
    link: account
    aggregate: sum
    field: amount
    filter: {field: stage, op: eq, value: won}
  - {key: largest, type: rollup, label: Largest, form: deal, link: account, aggregate: max, field: amount}
  - {key: first_close, type: rollup, label: First close, form: deal, link: account, aggregate: min, field: close_date}
  - key: latest_stage
    type: rollup
    label: Latest stage
    form: deal
    link: account
    aggregate: latest
    field: stage
    by: close_date
  - key: headroom
    type: formula
    label: Headroom
    expression: "(credit or 0) - won_total"
    result: money
list:
  columns: [name, deal_count, won_total]
  filters: [won_total, latest_stage]
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""

DEAL = """\
key: deal
label: Deal
title_field: title
fields:
  - {key: title, type: text, label: Title, required: true}
  - {key: account, type: link, label: Account, form: account, on_delete: cascade}
  - {key: amount, type: money, label: Amount}
  - key: stage
    type: select
    label: Stage
    default: open
    options:
      - {value: open, label: Open}
      - {value: won, label: Won}
      - {value: lost, label: Lost}
  - {key: close_date, type: date, label: Close date}
  - {key: account_region, type: lookup, label: Region, link: account, field: region}
  - {key: account_headroom, type: lookup, label: Headroom, link: account, field: headroom}
list:
  columns: [title, account, amount, account_region]
  filters: [account_region]
rules:
  - key: within_credit
    expression: "account_headroom is none or account_headroom >= 0"
    message: {en: "Won deals would pass the account's credit limit", zh: 赢单金额将超过客户的信用额度}
    field: amount
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""

FILES = {"app.yaml": APP, "forms/account.yaml": ACCOUNT, "forms/deal.yaml": DEAL}
