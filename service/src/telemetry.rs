//! Logging: JSON lines on stdout, one object per event, carrying the request's span (and so
//! its `request_id`) for every event logged while handling a request.
//!
//! The lines are the ones tracing-subscriber's JSON format writes (`timestamp`, `level`,
//! the event's fields with `message` first, `target`, then `spans`, outermost first, each
//! with its fields and `name`), written in one pass. tracing-subscriber's own JSON format
//! collects every event's fields into a map and parses each span's stored fields back from
//! text for every line; with a line per request that was the largest cost of the service
//! that was its own (see `bench/README.md`).

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the global subscriber. `filter` is a `LOG_LEVEL` directive such as `info` or
/// `info,sqlx=warn`; it was validated with the settings.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .fmt_fields(JsonFields)
        .event_format(JsonLine)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
}

/// A span's fields, kept as the members of a JSON object (`"k":v,"k2":v2`, no braces), so a
/// line copies them as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFields;

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut members = Members::new(&mut writer);
        fields.record(&mut members);
        members.result
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut writer = current.as_writer();
        let mut members = Members::new(&mut writer);
        members.first = first;
        fields.record(&mut members);
        members.result
    }
}

/// One event as one JSON line.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\"", meta.level())?;
        // `message` first, as tracing-subscriber's format puts it.
        let mut message = Message::default();
        event.record(&mut message);
        if let Some(text) = &message.0 {
            writer.write_str(",\"message\":")?;
            string(&mut writer, text)?;
        }
        let mut members = Members::new(&mut writer);
        members.first = false;
        members.skip_message = true;
        event.record(&mut members);
        members.result?;
        writer.write_str(",\"target\":")?;
        string(&mut writer, meta.target())?;
        if let Some(scope) = ctx.event_scope() {
            writer.write_str(",\"spans\":[")?;
            for (i, span) in scope.from_root().enumerate() {
                if i > 0 {
                    writer.write_char(',')?;
                }
                writer.write_char('{')?;
                let extensions = span.extensions();
                let fields = extensions
                    .get::<FormattedFields<N>>()
                    .map_or("", |f| f.fields.as_str());
                if !fields.is_empty() {
                    writer.write_str(fields)?;
                    writer.write_char(',')?;
                }
                writer.write_str("\"name\":")?;
                string(&mut writer, span.name())?;
                writer.write_char('}')?;
            }
            writer.write_char(']')?;
        }
        writer.write_str("}\n")
    }
}

/// The event's `message`, read before its other fields.
#[derive(Default)]
struct Message(Option<String>);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// Writes fields as JSON object members: strings escaped, numbers and booleans as they are,
/// anything else as the string of its `Debug` (which for `%value` is its `Display`).
struct Members<'a, W: fmt::Write> {
    out: &'a mut W,
    first: bool,
    skip_message: bool,
    result: fmt::Result,
}

impl<'a, W: fmt::Write> Members<'a, W> {
    fn new(out: &'a mut W) -> Self {
        Self {
            out,
            first: true,
            skip_message: false,
            result: Ok(()),
        }
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() || (self.skip_message && field.name() == "message") {
            return;
        }
        self.result = (|| {
            if !self.first {
                self.out.write_char(',')?;
            }
            self.first = false;
            string(self.out, field.name())?;
            self.out.write_char(':')?;
            value(self.out)
        })();
    }
}

impl<W: fmt::Write> Visit for Members<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| string(out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.member(field, |out| write!(out, "{value}"));
        } else {
            // JSON has no NaN or infinity; serde_json writes null for them too.
            self.member(field, |out| out.write_str("null"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| {
            out.write_char('"')?;
            write!(Escaped(out), "{value:?}")?;
            out.write_char('"')
        });
    }
}

/// A JSON string.
fn string(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(out).write_str(text)?;
    out.write_char('"')
}

/// Writes what it is given escaped for the inside of a JSON string.
struct Escaped<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, c) in text.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if (c as u32) < 0x20 => "",
                _ => continue,
            };
            self.0.write_str(&text[plain..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{:04x}", c as u32)?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = i + c.len_utf8();
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use tracing_subscriber::fmt::MakeWriter;

    use super::{JsonFields, JsonLine};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// What `log` writes, parsed line by line.
    fn logged(log: impl FnOnce()) -> Vec<Value> {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields)
            .event_format(JsonLine)
            .with_writer(lines.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .collect()
    }

    #[test]
    fn a_line_carries_the_event_and_every_span_as_valid_json() {
        let lines = logged(|| {
            let outer = tracing::info_span!("request", request_id = "r-1", method = "GET");
            let _outer = outer.enter();
            let inner = tracing::info_span!("query", rows = 3_u64);
            let _inner = inner.enter();
            tracing::info!(
                status = 201,
                latency = %"12 μs",
                ok = true,
                ratio = 0.5,
                nan = f64::NAN,
                weird = "quote \" backslash \\ newline \n bell \u{7} done",
                "user created"
            );
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "user created");
        assert_eq!(line["status"], 201);
        assert_eq!(line["latency"], "12 μs");
        assert_eq!(line["ok"], true);
        assert_eq!(line["ratio"], 0.5);
        assert_eq!(line["nan"], Value::Null);
        assert_eq!(
            line["weird"],
            "quote \" backslash \\ newline \n bell \u{7} done"
        );
        assert_eq!(line["target"], module_path!());
        assert_eq!(
            line["spans"],
            json!([
                {"request_id": "r-1", "method": "GET", "name": "request"},
                {"rows": 3, "name": "query"},
            ])
        );
        // RFC 3339 in UTC, as before.
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            timestamp.ends_with('Z') && timestamp.contains('T'),
            "{timestamp}"
        );
        // The message comes first after the level, as tracing-subscriber's format has it.
        let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 11, "{keys:?}");
    }

    #[test]
    fn fields_recorded_later_and_spanless_events_stay_valid_json() {
        let lines = logged(|| {
            tracing::warn!("no span here");
            let span = tracing::info_span!("job", id = tracing::field::Empty);
            span.record("id", 7);
            span.record("id", 8);
            let _entered = span.enter();
            tracing::error!(reason = "broken", "failed");
        });
        assert_eq!(lines[0]["message"], "no span here");
        assert_eq!(lines[0]["level"], "WARN");
        assert!(lines[0].get("spans").is_none());
        assert_eq!(lines[1]["reason"], "broken");
        assert_eq!(lines[1]["spans"][0]["name"], "job");
        assert_eq!(lines[1]["spans"][0]["id"], 8, "{}", lines[1]);
    }
}
