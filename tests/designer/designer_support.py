"""Texts the designer tests share."""

FORM_WITH_COMMENTS = """\
# The things we keep track of.
key: item
label: {zh: 条目, en: Item}
title_field: name
fields:
  - key: name   # shown in lists
    type: text
    label: {zh: 名称, en: Name}
    required: true
  - key: qty
    type: number
    label: {zh: 数量, en: Quantity}
  - key: total
    type: formula
    label: {zh: 合计, en: Total}
    expression: "(qty or 0) * 2"
    result: number
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""
