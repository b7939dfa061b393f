#!/usr/bin/env python3
"""Writes the shipped series-selection rules into config/default.json (key "selection").
Run from the repository root: python3 tools/make-default-selection-rules.py"""
import re
import json, collections
T1 = r"(^|[^a-z0-9])[se]?t1(?![0-9])|\b(vibe|starvibe|lava|thrive|ethrive|fspgr|spgr|bravo|mprage|flash)\b"
T2 = r"(^|[^a-z0-9])[se]?t2(?![0-9])"
FS = r"\b(fs|fat\s*-?\s*sat\w*|fatsat|spair|spir|water|fsat|ideal|chess|fat\s*-?\s*sup\w*|wfs)\b|t[12]w?fs\b|\bdixon\b.*\bw\b"
OTHER = [
    r"\b(dyn\w*|dce|perf\w*|twist|tricks|disco|tof|angio|mra|maps?|mapping|molli|vfa|swi|medic|merge)\b",
    r"\b(in\s*phase|opp\w*\s*phase|out\s*phase|ip|op)\b|\bfat\b(?!\s*-?\s*(sat|sup))|\bdixon\b.*\bf\b",
]
NOT_T2 = [T2, r"\b(pd|pdw\w*|stir|tirm)\b"] + OTHER
NOT_T1 = [r"(^|[^a-z0-9])[se]?t1(?![0-9])", r"t2\s*\*|t2\s*star|\bfl2d\b|\bhemo\b|\bflair\b|\bdark\s*-?\s*fluid\b|\b(pd|pdw\w*)\b"] + OTHER
IT_EXCL = ["MPR", "MIP", "PROJECTION IMAGE", "SUBTRACTION", "FAT", "IN_PHASE", "OUT_PHASE", "OPP_PHASE", "F", "IP", "OP"]
def rule(name, role, priority, **kw):
    r = collections.OrderedDict(name=name, role=role, priority=priority)
    r.update(kw)
    r.setdefault("imageTypeExclude", IT_EXCL)
    r.setdefault("orientation", "axial")
    r.setdefault("orientationToleranceDegrees", 20)
    r.setdefault("minInstances", 3)
    return r
rules = [
    rule("t1-axial", "t1", 20, seriesDescription=[T1], seriesDescriptionExclude=NOT_T2, contrast="forbidden", echoTimeMs=[0, 35]),
    rule("t1-axial-by-timing", "t1", 5, seriesDescriptionExclude=NOT_T2, contrast="forbidden",
         scanningSequence=["SE"], scanningSequenceExclude=["IR", "EP"], repetitionTimeMs=[300, 1000], echoTimeMs=[4, 30]),
    rule("t2-fat-suppressed-axial", "t2", 30, seriesDescription=[T2 + r"|\bwater\b"], seriesDescriptionExclude=NOT_T1[1:] + [r"\b(stir|tirm)\b"], echoTimeMs=[50, 300]),
    rule("t2-axial", "t2", 20, seriesDescription=[T2], seriesDescriptionExclude=NOT_T1[1:] + [r"\b(stir|tirm)\b"], echoTimeMs=[50, 300]),
    rule("t2-stir-axial", "t2", 10, seriesDescription=[r"\b(stir|tirm)\b"], seriesDescriptionExclude=NOT_T1, echoTimeMs=[30, 300]),
    rule("t2-axial-by-timing", "t2", 5, seriesDescriptionExclude=NOT_T1, scanningSequence=["SE"], scanningSequenceExclude=["IR", "EP"],
         repetitionTimeMs=[2000, 15000], echoTimeMs=[70, 200]),
    rule("ce-t1-fat-suppressed-axial", "ce-t1", 30, seriesDescription=[T1], seriesDescriptionExclude=NOT_T2, contrast="required", echoTimeMs=[0, 35]),
    rule("ce-t1-axial", "ce-t1", 20, seriesDescription=[T1], seriesDescriptionExclude=NOT_T2, contrast="required", echoTimeMs=[0, 35]),
    rule("ce-t1-axial-neutral-description", "ce-t1", 10, seriesDescriptionExclude=NOT_T2, contrast="required",
         scanningSequenceExclude=["EP"], repetitionTimeMs=[2, 1200], echoTimeMs=[0, 35]),
]
# The fat-suppressed variants need both the weighting and a fat-suppression token.
rules[2]["seriesDescription"] = [r"^(?=.*(" + T2 + r"))(?=.*(" + FS + r"))"]
rules[6]["seriesDescription"] = [r"^(?=.*(" + T1 + r"))(?=.*(" + FS + r"))"]
# Rewrite only the "selection" key of config/default.json, leaving the rest of the file as it is.
p = "config/default.json"
text = open(p).read()
json.loads(text)
def compact(r):
    return "      " + json.dumps(r, separators=(", ", ": "))
block = '  "selection": {\n    "rules": [\n' + ",\n".join(compact(r) for r in rules) + "\n    ]\n  }"
if '"selection":' in text:
    text = re.sub(r'  "selection": \{\n    "rules": \[\n.*?\n    \]\n  \}', lambda m: block, text, flags=re.S)
else:
    text = text.rstrip()
    assert text.endswith("}")
    text = text[:-1].rstrip() + ",\n" + block + "\n}\n"
cfg = json.loads(text)
assert cfg["selection"]["rules"] == json.loads(json.dumps(rules))
open(p, "w").write(text)
