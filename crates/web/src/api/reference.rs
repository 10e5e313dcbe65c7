//! `docs/API.md`, the API reference for people, written from `openapi.json` so the two
//! cannot disagree: a test fails when the file is not what this makes of the spec
//! (`UPDATE_API_REFERENCE=1 cargo test -p roomkeeper-web api_reference` rewrites it).

use serde_json::Value;

/// The reference in Markdown.
pub fn markdown(spec: &Value) -> String {
    let mut out = String::new();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    out.push_str(&format!("# {}\n\n", text(&spec["info"]["title"])));
    out.push_str(
        "This file is written from `crates/web/src/api/openapi.json` (served at \
         `/api/v1/openapi.json`); change that, then run \
         `UPDATE_API_REFERENCE=1 cargo test -p roomkeeper-web api_reference`.\n\n",
    );
    out.push_str(&format!("{}\n\n", text(&spec["info"]["description"])));
    out.push_str("All paths are under `/api/v1`.\n\n## Routes\n");
    let Some(paths) = spec["paths"].as_object() else {
        return out;
    };
    for (path, operations) in paths {
        let Some(operations) = operations.as_object() else {
            continue;
        };
        for (method, operation) in operations {
            out.push_str(&format!(
                "\n### `{} {path}`\n\n{}\n",
                method.to_uppercase(),
                text(&operation["summary"])
            ));
            if let Some(description) = operation["description"].as_str() {
                out.push_str(&format!("\n{description}\n"));
            }
            if operation["security"].as_array().is_some_and(Vec::is_empty) {
                out.push_str("\nNo login needed.\n");
            }
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !parameters.is_empty() {
                out.push_str("\nParameters:\n");
                for parameter in &parameters {
                    out.push_str(&format!(
                        "- `{}` ({}, {}{}){}\n",
                        text(&parameter["name"]),
                        text(&parameter["in"]),
                        type_of(&parameter["schema"]),
                        if parameter["required"] == true {
                            ", required"
                        } else {
                            ""
                        },
                        parameter["description"]
                            .as_str()
                            .map(|d| format!(": {d}"))
                            .unwrap_or_default()
                    ));
                }
            }
            if let Some(schema) = body_schema(&operation["requestBody"]) {
                out.push_str(&format!("\nBody: {schema}\n"));
            }
            if let Some(responses) = operation["responses"].as_object() {
                out.push_str("\nAnswers:\n");
                for (status, response) in responses {
                    let schema = body_schema(response)
                        .map(|s| format!(" {s}"))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "- {status}: {}{schema}\n",
                        text(&response["description"])
                    ));
                }
            }
        }
    }
    if let Some(schemas) = spec["components"]["schemas"].as_object() {
        out.push_str("\n## Objects\n");
        for (name, schema) in schemas {
            out.push_str(&format!("\n### {name}\n\n"));
            if let Some(description) = schema["description"].as_str() {
                out.push_str(&format!("{description}\n\n"));
            }
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match schema["properties"].as_object() {
                Some(properties) => {
                    for (field, property) in properties {
                        out.push_str(&format!(
                            "- `{field}` ({}{}){}\n",
                            type_of(property),
                            if required.contains(&field.as_str()) {
                                ", required"
                            } else {
                                ""
                            },
                            property["description"]
                                .as_str()
                                .map(|d| format!(": {d}"))
                                .unwrap_or_default()
                        ));
                    }
                }
                None => out.push_str(&format!("{}\n", type_of(schema))),
            }
        }
    }
    out
}

/// The JSON body's schema, named: `Error`, `array of Room`, `object`.
fn body_schema(holder: &Value) -> Option<String> {
    let schema = &holder["content"]["application/json"]["schema"];
    Some(type_of(schema)).filter(|t| t != "any")
}

fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("[{name}](#{})", name.to_lowercase());
    }
    match schema["type"].as_str() {
        Some("array") => format!("array of {}", type_of(&schema["items"])),
        Some(kind) => {
            let nullable = schema["nullable"] == true;
            match schema["enum"].as_array() {
                Some(values) => {
                    let values: Vec<String> = values
                        .iter()
                        .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
                        .collect();
                    format!("{kind}: one of {}", values.join(", "))
                }
                None if nullable => format!("{kind} or null"),
                None => kind.to_owned(),
            }
        }
        None => "any".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_reference_is_written_from_the_spec() {
        let spec: serde_json::Value =
            serde_json::from_str(super::super::OPENAPI_JSON).expect("openapi.json parses");
        let expected = super::markdown(&spec);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md");
        if std::env::var_os("UPDATE_API_REFERENCE").is_some() {
            std::fs::write(path, &expected).expect("docs/API.md written");
        }
        let actual = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/API.md is not what openapi.json says: run \
             UPDATE_API_REFERENCE=1 cargo test -p roomkeeper-web api_reference"
        );
    }
}
