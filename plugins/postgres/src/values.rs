//! Column values as JSON: pgoutput sends every value as PostgreSQL's text form, and the
//! column's type says what JSON it maps to. Numbers, booleans and JSON documents map; the
//! rest (dates, bytea as `\x..`, arrays, ...) stay the text PostgreSQL wrote.

use serde_json::{Map, Number, Value as Json};

use crate::pgoutput::{Column, Value};

const BOOL: u32 = 16;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const OID: u32 = 26;
const JSON: u32 = 114;
const FLOAT4: u32 = 700;
const FLOAT8: u32 = 701;
const NUMERIC: u32 = 1700;
const JSONB: u32 = 3802;

/// One value as JSON, `None` for a TOASTed value the change left alone (it is left out).
pub fn to_json(type_oid: u32, value: &Value) -> Option<Json> {
    let text = match value {
        Value::Null => return Some(Json::Null),
        Value::Unchanged => return None,
        Value::Text(text) => text,
    };
    let typed = match type_oid {
        BOOL => Some(Json::Bool(text == "t")),
        INT2 | INT4 | INT8 | OID => text.parse::<i64>().ok().map(Json::from),
        FLOAT4 | FLOAT8 => text.parse::<f64>().ok().and_then(Number::from_f64).map(Json::Number),
        NUMERIC => exact_number(text),
        JSON | JSONB => serde_json::from_str(text).ok(),
        _ => None,
    };
    Some(typed.unwrap_or_else(|| Json::String(text.clone())))
}

/// A numeric as a JSON number only when no digit is lost on the way (a JSON reader takes it
/// as a double): integers that fit 64 bits and decimals a double prints back the same.
/// Others, and NaN, stay text.
fn exact_number(text: &str) -> Option<Json> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(Json::from(n));
    }
    let float = text.parse::<f64>().ok()?;
    let number = Number::from_f64(float)?;
    (float.to_string() == text).then_some(Json::Number(number))
}

/// A row as a JSON object, column name to value; with `keys_only`, only the key columns
/// (an old row that carries the replica identity alone).
pub fn row(columns: &[Column], values: &[Value], keys_only: bool) -> Json {
    let mut object = Map::new();
    for (column, value) in columns.iter().zip(values) {
        if keys_only && !column.key {
            continue;
        }
        if let Some(json) = to_json(column.type_oid, value) {
            object.insert(column.name.clone(), json);
        }
    }
    Json::Object(object)
}

/// The event's subject: the key's value as text, or a JSON array of the values when the
/// key has several columns; `None` for a table without a key.
pub fn key(columns: &[Column], values: &[Value]) -> Option<String> {
    let mut parts: Vec<(&Value, u32)> =
        columns.iter().zip(values).filter(|(c, _)| c.key).map(|(c, v)| (v, c.type_oid)).collect();
    match parts.len() {
        0 => None,
        1 => match parts.pop() {
            Some((Value::Text(text), _)) => Some(text.clone()),
            _ => None,
        },
        _ => {
            let values: Vec<Json> = parts.iter().map(|(v, oid)| to_json(*oid, v).unwrap_or(Json::Null)).collect();
            Some(Json::Array(values).to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn types_map_to_json_where_they_can() {
        assert_eq!(to_json(BOOL, &t("t")), Some(json!(true)));
        assert_eq!(to_json(INT8, &t("9007199254740993")), Some(json!(9007199254740993i64)));
        assert_eq!(to_json(FLOAT8, &t("1.5")), Some(json!(1.5)));
        assert_eq!(to_json(FLOAT8, &t("NaN")), Some(json!("NaN")));
        assert_eq!(to_json(NUMERIC, &t("12.25")), Some(json!(12.25)));
        assert_eq!(to_json(NUMERIC, &t("0.10000000000000000001")), Some(json!("0.10000000000000000001")));
        assert_eq!(to_json(NUMERIC, &t("12.50")), Some(json!("12.50")), "a trailing zero would be lost");
        assert_eq!(to_json(JSONB, &t(r#"{"a": [1]}"#)), Some(json!({"a": [1]})));
        assert_eq!(to_json(1082, &t("2026-11-30")), Some(json!("2026-11-30")));
        assert_eq!(to_json(INT4, &Value::Null), Some(Json::Null));
        assert_eq!(to_json(25, &Value::Unchanged), None);
    }

    #[test]
    fn the_key_is_text_or_an_array_for_several_columns() {
        let col = |name: &str, key, type_oid| Column { name: name.into(), key, type_oid };
        let one = [col("id", true, INT4), col("name", false, 25)];
        assert_eq!(key(&one, &[t("7"), t("x")]).as_deref(), Some("7"));
        let two = [col("tenant", true, 25), col("id", true, INT4)];
        assert_eq!(key(&two, &[t("acme"), t("7")]).as_deref(), Some(r#"["acme",7]"#));
        assert_eq!(key(&[col("a", false, 25)], &[t("x")]), None);
        assert_eq!(row(&one, &[t("7"), Value::Null], true), json!({"id": 7}));
    }
}
