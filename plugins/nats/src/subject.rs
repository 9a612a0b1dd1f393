//! `nats-publish`'s subject template: `"events.{type}"` and the like, where `{type}`,
//! `{source}`, `{subject}` and `{id}` stand for the event's attributes.

use evhost_sdk::cloudevents::CloudEvent;

use crate::config::check_subject;

/// A parsed template: literal text and placeholders, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Type,
    Source,
    Subject,
    Id,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or("a `{` has no `}`; write placeholders as {type}, {source}, {subject} or {id}")?;
            let name = &rest[open + 1..open + close];
            parts.push(match name {
                "type" => Part::Type,
                "source" => Part::Source,
                "subject" => Part::Subject,
                "id" => Part::Id,
                other => {
                    return Err(format!(
                        "{{{other}}} is not a placeholder; use {{type}}, {{source}}, {{subject}} or {{id}}"
                    ))
                }
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        let template = Template { parts };
        // With every placeholder as one plain token the subject must be valid.
        check_subject(&template.render_with(|_| "x"), false)?;
        Ok(template)
    }

    /// The subject of `event`. In attribute values, white space, `*` and `>` become `_`
    /// (they cannot appear in a subject); `Err` when the result is still not a subject (an
    /// empty attribute, or one with empty tokens), with the reason.
    pub fn render(&self, event: &impl CloudEvent) -> Result<String, String> {
        let subject = self.render_with(|part| match part {
            Part::Type => event.ty(),
            Part::Source => event.source(),
            Part::Subject => event.subject().unwrap_or(""),
            Part::Id => event.id(),
            Part::Text(_) => unreachable!("text is copied, not looked up"),
        });
        check_subject(&subject, false)
            .map_err(|why| format!("subject {subject:?} of event {:?}: {why}", event.id()))?;
        Ok(subject)
    }

    fn render_with<'a>(&self, mut value: impl FnMut(&Part) -> &'a str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                other => out.extend(value(other).chars().map(|c| {
                    if c.is_whitespace() || c == '*' || c == '>' {
                        '_'
                    } else {
                        c
                    }
                })),
            }
        }
        out
    }

    /// The subjects a stream needs to capture every subject this template makes: the
    /// tokens before the first placeholder, then `>`; `None` when a placeholder is in the
    /// first token (the stream would capture everything).
    pub fn stream_subject(&self) -> Option<String> {
        let mut prefix = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => prefix.push_str(text),
                _ => {
                    let cut = prefix.rfind('.')?;
                    return Some(format!("{}.>", &prefix[..cut]));
                }
            }
        }
        Some(prefix)
    }
}

#[cfg(test)]
mod tests {
    use evhost_sdk::OutEvent;

    use super::*;

    #[test]
    fn placeholders_take_the_attributes() {
        let event = OutEvent::new("7", "/orders/eu west", "com.example.created").subject("a*b");
        let render = |t: &str| Template::parse(t).unwrap().render(&event);
        assert_eq!(render("events.{type}").unwrap(), "events.com.example.created");
        assert_eq!(render("e.{source}.{subject}.{id}").unwrap(), "e./orders/eu_west.a_b.7");
        assert_eq!(render("fixed.subject").unwrap(), "fixed.subject");
        let no_subject = OutEvent::new("7", "/s", "t");
        assert!(Template::parse("e.{subject}").unwrap().render(&no_subject).unwrap_err().contains("empty tokens"));
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(Template::parse("events.{typ}").unwrap_err().contains("{typ}"));
        assert!(Template::parse("events.{type").unwrap_err().contains("no `}`"));
        assert!(Template::parse("events.>").unwrap_err().contains("wildcards"));
        assert!(Template::parse("events..{type}").unwrap_err().contains("empty tokens"));
    }

    #[test]
    fn the_stream_subject_covers_the_template() {
        let stream = |t: &str| Template::parse(t).unwrap().stream_subject();
        assert_eq!(stream("events.{type}").as_deref(), Some("events.>"));
        assert_eq!(stream("a.b.{type}.c").as_deref(), Some("a.b.>"));
        assert_eq!(stream("a.b").as_deref(), Some("a.b"));
        assert_eq!(stream("{type}"), None);
        assert_eq!(stream("x{type}.y"), None);
    }
}
