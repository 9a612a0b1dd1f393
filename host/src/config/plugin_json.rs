//! A plugin's `config` table as the JSON text the plugin receives. TOML has values JSON has
//! not: a date or time becomes its RFC 3339 string, as a plugin would read it from JSON
//! (serde would pass on the toml crate's private wrapper object instead); NaN and infinity
//! are refused, where serde_json would pass on `null`.

use serde_json::{Map, Number, Value};

/// The table as JSON text, or why it cannot be: which value JSON cannot carry.
pub fn to_json(table: &toml::Table) -> Result<String, String> {
    Ok(table_json(table, "config")?.to_string())
}

fn table_json(table: &toml::Table, path: &str) -> Result<Value, String> {
    let entries = table.iter().map(|(key, value)| Ok((key.clone(), value_json(value, &format!("{path}.{key}"))?)));
    entries.collect::<Result<Map<_, _>, String>>().map(Value::Object)
}

fn value_json(value: &toml::Value, path: &str) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(text) => Value::String(text.clone()),
        toml::Value::Integer(n) => Value::from(*n),
        toml::Value::Float(f) => Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("`{path}` is {f}, which JSON cannot carry"))?,
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(time) => Value::String(time.to_string()),
        toml::Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| value_json(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => table_json(table, path)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Result<String, String> {
        to_json(&text.parse::<toml::Table>().expect("valid TOML"))
    }

    #[test]
    fn dates_and_times_become_rfc_3339_strings() {
        assert_eq!(
            json("when = 1979-05-27T07:32:00Z\nday = 1979-05-27\nat = [07:32:00]\nn = { x = 1.5 }").unwrap(),
            r#"{"at":["07:32:00"],"day":"1979-05-27","n":{"x":1.5},"when":"1979-05-27T07:32:00Z"}"#
        );
    }

    #[test]
    fn nan_and_infinity_are_refused_with_their_place() {
        assert_eq!(json("a = { b = [1.0, nan] }").unwrap_err(), "`config.a.b[1]` is NaN, which JSON cannot carry");
        assert_eq!(json("x = -inf").unwrap_err(), "`config.x` is -inf, which JSON cannot carry");
    }
}
