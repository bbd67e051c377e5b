//! MITRE ATT&CK® Enterprise v18.1, bundled: technique names and tactics,
//! groups, campaigns and software with their aliases (`data/attack/`, with
//! its licence, © The MITRE Corporation, reproduced and distributed with
//! its permission).

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::entity::{class, name_key};
use crate::model::ItemKind;

const TECHNIQUES: &str = include_str!("../../../data/attack/techniques.tsv");
const GROUPS: &str = include_str!("../../../data/attack/groups.tsv");
const SOFTWARE: &str = include_str!("../../../data/attack/software.tsv");

/// An ATT&CK technique or sub-technique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technique {
    /// `T1566` or `T1566.001`.
    pub id: &'static str,
    /// Its own name (`Spearphishing Attachment`).
    pub name: &'static str,
    /// Tactics it serves (`initial-access`), ATT&CK's short names.
    pub tactics: Vec<&'static str>,
    /// Whether ATT&CK deprecated it.
    pub deprecated: bool,
}

impl Technique {
    /// The name as ATT&CK writes it in lists: a sub-technique after its
    /// parent's (`Phishing: Spearphishing Attachment`).
    pub fn full_name(&self) -> String {
        match self.id.split_once('.').and_then(|(p, _)| technique(p)) {
            Some(parent) => format!("{}: {}", parent.name, self.name),
            None => self.name.to_owned(),
        }
    }
}

/// An ATT&CK group (intrusion set), campaign or software (malware, tool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttackObject {
    /// `G0007`, `C0001`, `S0002`.
    pub id: &'static str,
    /// Its STIX type as an item kind.
    pub kind: ItemKind,
    /// ATT&CK's name for it.
    pub name: &'static str,
    /// Other names ATT&CK lists.
    pub aliases: Vec<&'static str>,
}

struct Tables {
    techniques: HashMap<&'static str, Technique>,
    objects: HashMap<&'static str, AttackObject>,
    /// (class, name key) → object id; a name two objects share is left out.
    names: HashMap<(&'static str, String), Option<&'static str>>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let rows = |text: &'static str| {
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| l.split('\t').collect::<Vec<_>>())
        };
        let mut techniques = HashMap::new();
        for r in rows(TECHNIQUES) {
            if let [id, name, tactics, deprecated, ..] = r[..] {
                let tactics = tactics.split(',').filter(|t| !t.is_empty()).collect();
                techniques.insert(
                    id,
                    Technique {
                        id,
                        name,
                        tactics,
                        deprecated: deprecated == "1",
                    },
                );
            }
        }
        let mut objects = HashMap::new();
        let mut names: HashMap<(&'static str, String), Option<&'static str>> = HashMap::new();
        for r in rows(GROUPS).chain(rows(SOFTWARE)) {
            let [id, kind, name, aliases, ..] = r[..] else {
                continue;
            };
            let Ok(kind) = kind.parse::<ItemKind>() else {
                continue;
            };
            let aliases: Vec<&'static str> = aliases.split('|').filter(|a| !a.is_empty()).collect();
            for n in std::iter::once(name).chain(aliases.iter().copied()) {
                names
                    .entry((class(kind), name_key(n)))
                    .and_modify(|v| {
                        if *v != Some(id) {
                            *v = None;
                        }
                    })
                    .or_insert(Some(id));
            }
            objects.insert(
                id,
                AttackObject {
                    id,
                    kind,
                    name,
                    aliases,
                },
            );
        }
        Tables {
            techniques,
            objects,
            names,
        }
    })
}

/// The technique with this id (`T1566.001`, any case).
pub fn technique(id: &str) -> Option<&'static Technique> {
    tables()
        .techniques
        .get(id.trim().to_ascii_uppercase().as_str())
}

/// The group, campaign or software with this id (`G0007`).
pub fn object(id: &str) -> Option<&'static AttackObject> {
    tables()
        .objects
        .get(id.trim().to_ascii_uppercase().as_str())
}

/// The group, campaign or software that goes by `name` in `class`
/// (`actor`, `software`, `campaign`), matched as entity names are.
pub fn object_named(class: &str, name: &str) -> Option<&'static AttackObject> {
    let t = tables();
    let id = t
        .names
        .get(&(class_static(class)?, name_key(name)))?
        .as_ref()?;
    t.objects.get(id)
}

fn class_static(class: &str) -> Option<&'static str> {
    ["actor", "software", "campaign"]
        .into_iter()
        .find(|c| *c == class)
}

/// Whether `s` is shaped like an ATT&CK id (`T1566`, `T1566.001`, `G0007`,
/// `S0002`, `C0001`, `TA0001`).
pub fn is_attack_id(s: &str) -> bool {
    let (rest, may_have_sub) = if let Some(rest) = s.strip_prefix("TA") {
        (rest, false)
    } else if let Some(rest) = s.strip_prefix(['T', 'G', 'S', 'C', 'M']) {
        (rest, s.starts_with('T'))
    } else {
        return false;
    };
    let digits = |d: &str, n: usize| d.len() == n && d.bytes().all(|b| b.is_ascii_digit());
    match rest.split_once('.') {
        None => digits(rest, 4),
        Some((main, sub)) => may_have_sub && digits(main, 4) && digits(sub, 3),
    }
}

/// A technique id a name starts with or is (`T1566.001`,
/// `T1566.001 - Spearphishing Attachment`).
pub fn technique_id_in(name: &str) -> Option<String> {
    let first = name
        .split(|c: char| c.is_whitespace() || matches!(c, ':' | '-' | '[' | ']' | '(' | ')'))
        .find(|w| !w.is_empty())?
        .to_ascii_uppercase();
    (first.starts_with('T') && is_attack_id(&first) && technique(&first).is_some()).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_load() {
        let t = technique("t1566.001").unwrap();
        assert_eq!(t.name, "Spearphishing Attachment");
        assert_eq!(t.tactics, vec!["initial-access"]);
        assert_eq!(t.full_name(), "Phishing: Spearphishing Attachment");
        assert_eq!(object("G0007").unwrap().name, "APT28");
        assert_eq!(object_named("actor", "sofacy").unwrap().id, "G0007");
        assert_eq!(object_named("software", "mimikatz").unwrap().id, "S0002");
        assert!(object_named("actor", "mimikatz").is_none());
        assert!(tables().techniques.len() > 600);
    }

    #[test]
    fn id_shapes() {
        for ok in ["T1566", "T1566.001", "G0007", "S0002", "C0001", "TA0001"] {
            assert!(is_attack_id(ok), "{ok}");
        }
        for bad in [
            "T156",
            "T1566.01",
            "TA0001.001",
            "X1234",
            "",
            "T15666",
            "G0007.001",
        ] {
            assert!(!is_attack_id(bad), "{bad}");
        }
        assert_eq!(
            technique_id_in("T1566.001 - Spearphishing Attachment").as_deref(),
            Some("T1566.001")
        );
        assert_eq!(technique_id_in("Phishing"), None);
    }
}
