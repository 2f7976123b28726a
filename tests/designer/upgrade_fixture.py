"""The upgrade fixture of issue 17: a release, an admin's customisation, and a new release.

The admin relabels A, hides B, adds C after D and swaps E and F; the new release relabels A
differently, deletes D and adds G.
"""

from __future__ import annotations

from formflow.designer import Designer
from formflow.designer.operations import AddField, ConfigureField, HideField, MoveField
from support import MINIMAL_APP_YAML

SHELF = {"key": "c", "type": "text", "label": {"zh": "货架", "en": "Shelf"}}
RELEASE_2_APP = MINIMAL_APP_YAML.replace('version: "1.0"', 'version: "2.0"')

BASE_FORM = """\
# Things we keep track of (release 1.0).
key: item
label: {zh: 条目, en: Item}
title_field: a
fields:
  - key: a   # the name
    type: text
    label: {zh: 名称, en: Name}
    required: true
  - key: b
    type: text
    label: {zh: 备注, en: Note}
  - key: d
    type: number
    label: {zh: 数量, en: Quantity}
  - key: e
    type: text
    label: {zh: 颜色, en: Colour}
  - key: f
    type: text
    label: {zh: 尺寸, en: Size}
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""

OURS_FORM = """\
# Things we keep track of (release 1.0).
key: item
label: {zh: 条目, en: Item}
title_field: a
fields:
  - key: a   # the name
    type: text
    label: {zh: 品名, en: Product}
    required: true
  - key: b
    type: text
    label: {zh: 备注, en: Note}
    visible_if: 'false'
  - key: d
    type: number
    label: {zh: 数量, en: Quantity}
  - key: c   # ours: the warehouse shelf
    type: text
    label: {zh: 货架, en: Shelf}
  - key: f
    type: text
    label: {zh: 尺寸, en: Size}
  - key: e
    type: text
    label: {zh: 颜色, en: Colour}
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""

THEIRS_FORM = """\
# Things we keep track of (release 2.0).
key: item
label: {zh: 条目, en: Item}
title_field: a
fields:
  - key: a   # the name
    type: text
    label: {zh: 物品名称, en: Item name}
    required: true
  - key: b
    type: text
    label: {zh: 备注, en: Note}
  - key: e
    type: text
    label: {zh: 颜色, en: Colour}
  - key: f
    type: text
    label: {zh: 尺寸, en: Size}
  - key: g   # new in 2.0
    type: date
    label: {zh: 到期日, en: Due}
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""

PATH = "forms/item.yaml"


def customise(service: Designer) -> Designer:
    """The fixture's admin: relabels a, hides b, adds c after d, swaps e and f; published."""
    revision = service.draft("demo").files[PATH].revision
    operations = [
        ConfigureField("a", "label", {"zh": "品名", "en": "Product"}),
        HideField("b"),
        AddField(SHELF, after="d"),
        MoveField("f", 4),
    ]
    service.apply("demo", PATH, revision, operations, user_id=None)
    assert service.publish("demo", None, "admin", "our changes") is not None
    return service
