//! Reading the SDK adapters' source for the AWS operations they call: how a test proves the
//! policy grants every call the code makes, and nothing else.

/// The IAM service prefix of an SDK crate (`aws_sdk_ecs` → `ecs`).
pub fn iam_prefix(sdk_crate: &str) -> Option<&'static str> {
    Some(match sdk_crate {
        "aws_sdk_ecs" => "ecs",
        "aws_sdk_ecr" => "ecr",
        "aws_sdk_secretsmanager" => "secretsmanager",
        "aws_sdk_ssm" => "ssm",
        "aws_sdk_cloudwatch" => "cloudwatch",
        "aws_sdk_cloudwatchlogs" => "logs",
        "aws_sdk_elasticloadbalancingv2" => "elasticloadbalancing",
        "aws_sdk_rds" => "rds",
        "aws_sdk_applicationautoscaling" => "application-autoscaling",
        "aws_sdk_sts" => "sts",
        "aws_sdk_sns" => "sns",
        "aws_sdk_iam" => "iam",
        _ => return None,
    })
}

/// The AWS operations a source file calls through the SDK, as `service:Action` (IAM action
/// names match the operation names, case aside), with the line of each.
///
/// An operation is the first method of a call chain that ends in `.send()` (or
/// `.into_paginator()…send()`), made on a client. Which client is told by the `impl` block
/// the call is in: `impl … for SdkX` or `impl SdkX`, where `pub struct SdkX(pub
/// aws_sdk_y::Client, …)`.
pub fn sdk_calls(source: &str) -> Result<Vec<(String, usize)>, String> {
    use std::collections::BTreeMap;
    let mut wrappers: BTreeMap<String, &str> = BTreeMap::new();
    for line in source.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("pub struct ")
            && let Some((name, inner)) = rest.split_once("(pub ")
            && let Some((krate, after)) = inner.split_once("::Client")
            && (after.starts_with(')') || after.starts_with(','))
        {
            wrappers.insert(name.trim().to_owned(), krate.trim());
        }
    }
    // Byte offset of each `impl` header and the wrapper it is for.
    let mut impls: Vec<(usize, Option<String>)> = Vec::new();
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with("impl ") || t.starts_with("impl<") {
            let target = t
                .trim_end_matches(['{', ' ', '\n'])
                .rsplit([' ', '<', '>'])
                .next()
                .map(str::to_owned);
            impls.push((offset, target.filter(|t| wrappers.contains_key(t))));
        }
        offset += line.len();
    }
    let bytes = source.as_bytes();
    let mut calls = Vec::new();
    let mut from = 0;
    while let Some(found) = source[from..].find(".send()") {
        let at = from + found;
        from = at + 1;
        let line = source[..at].matches('\n').count() + 1;
        // Walk the chain back: `.name(args)` segments, to the first one.
        let mut i = at;
        let mut first = None;
        loop {
            let mut j = i;
            while j > 0 && bytes[j - 1].is_ascii_whitespace() {
                j -= 1;
            }
            if j == 0 || bytes[j - 1] != b')' {
                break;
            }
            // Match the parentheses back.
            let mut depth = 0usize;
            let mut k = j;
            while k > 0 {
                k -= 1;
                match bytes[k] {
                    b')' => depth += 1,
                    b'(' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let mut s = k;
            while s > 0 && (bytes[s - 1].is_ascii_alphanumeric() || bytes[s - 1] == b'_') {
                s -= 1;
            }
            if s == 0 || bytes[s - 1] != b'.' || s == k {
                break;
            }
            first = Some(source[s..k].to_owned());
            i = s - 1;
        }
        // A chain through a macro (`copy_settings!(request, s).send()`) starts at the
        // builder's variable: the operation is then the last `self.0.OP()` before it.
        let first = first.or_else(|| {
            let before = &source[..at];
            let start = before
                .rfind("self\n")
                .into_iter()
                .chain(before.rfind("self.0"))
                .max()?;
            let rest = before[start..].trim_start_matches("self").trim_start();
            let rest = rest.strip_prefix(".0")?.trim_start().strip_prefix('.')?;
            let op: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!op.is_empty()).then_some(op)
        });
        let Some(op) = first else {
            return Err(format!(
                "line {line}: a .send() whose operation cannot be read"
            ));
        };
        let wrapper = impls
            .iter()
            .rev()
            .find(|(o, _)| *o < at)
            .and_then(|(_, w)| w.clone())
            .ok_or_else(|| {
                format!("line {line}: cannot tell which client `{op}` is called on (not in an `impl` of an SDK client wrapper)")
            })?;
        let krate = wrappers[&wrapper];
        let prefix = iam_prefix(krate)
            .ok_or_else(|| format!("line {line}: no IAM prefix known for {krate}"))?;
        let action: String = op
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        calls.push((format!("{prefix}:{action}"), line));
    }
    Ok(calls)
}
