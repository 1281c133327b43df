//! Tests of the key table: every key documented, environment names
//! unique, value parsers explaining their refusals.

use super::*;
use toml::Value;

#[test]
fn every_key_is_documented_in_docs_config_md() {
    let doc = include_str!("../../../../docs/config.md");
    for spec in all() {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", spec.key)))
            .unwrap_or_else(|| panic!("docs/config.md has no row for {}", spec.key));
        assert!(
            row.contains(spec.env),
            "{} row names {}",
            spec.key,
            spec.env
        );
        let reload = if spec.reloadable { "| yes |" } else { "| no |" };
        assert!(
            row.contains(reload),
            "{} row says reloadable={}",
            spec.key,
            spec.reloadable
        );
    }
}

#[test]
fn env_names_are_unique_and_prefixed() {
    let keys = all();
    for s in &keys {
        assert!(s.env.starts_with("TT_DBPROXY_"));
        assert_eq!(keys.iter().filter(|o| o.env == s.env).count(), 1);
    }
}

#[test]
fn value_parsers_explain_refusals() {
    assert_eq!(int::<u16>(&Value::String("80".into())), Ok(80));
    assert!(
        int::<u16>(&Value::String("abc".into()))
            .unwrap_err()
            .contains("whole number")
    );
    assert!(
        int::<u16>(&Value::Integer(70000))
            .unwrap_err()
            .contains("out of range")
    );
    assert_eq!(
        addresses(&Value::String("127.0.0.1:1, [::1]:2".into()))
            .unwrap()
            .len(),
        2
    );
    assert!(addresses(&Value::String("localhost".into())).is_err());
    assert_eq!(
        peer_list(&Value::String("10.0.0.0/8, ::1".into())).unwrap(),
        vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()]
    );
    assert_eq!(peer_list(&Value::String(String::new())).unwrap(), vec![]);
    let refused = peer_list(&Value::Array(vec![
        Value::String("10.0.0.0/8".into()),
        Value::String("10.0.0.0/33".into()),
    ]))
    .unwrap_err();
    assert!(refused.contains("10.0.0.0/33"), "{refused}");
    assert_eq!(normalize_site("127.0.0.1"), "http://127.0.0.1");
    assert_eq!(normalize_site("https://m.example"), "https://m.example");
}
