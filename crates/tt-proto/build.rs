//! Compiles `proto/IM.*.proto` with protox (no system `protoc`) and prost-build.
//!
//! The C++ TeamTalk servers use the protobuf-lite 2.6 runtime, which differs
//! from prost in three ways that a drop-in replacement must reproduce. Before
//! code generation the descriptor set is rewritten:
//! - `required` fields become `optional` so prost keeps them as `Option<T>`;
//!   the list of required fields is recorded and emitted as
//!   `CheckRequired` impls (prost itself never fails on a missing field);
//! - `string` fields become `bytes` (same wire format) because the C++
//!   runtime does not validate UTF-8 and prost would reject such bodies;
//! - required enum fields are checked against their declared values, as an
//!   unknown value makes the C++ parse fail.
//!
//! The unmodified descriptor set is also written out for reflection (JSON in
//! the `call` command).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use heck::{ToSnakeCase, ToUpperCamelCase};
use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};

const PROTO_FILES: &[&str] = &[
    "IM.BaseDefine.proto",
    "IM.Buddy.proto",
    "IM.File.proto",
    "IM.Group.proto",
    "IM.Login.proto",
    "IM.Message.proto",
    "IM.Other.proto",
    "IM.Server.proto",
    "IM.SwitchService.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_dir = manifest.join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let mut fds: FileDescriptorSet = protox::compile(PROTO_FILES, [&proto_dir])?;
    std::fs::write(out_dir.join("teamtalk_fds.bin"), fds.encode_to_vec())?;

    let rust_paths = collect_rust_paths(&fds);
    let mut checks = String::new();
    for file in &mut fds.file {
        let package = file.package().to_string();
        for msg in &mut file.message_type {
            rewrite_message(&package, &[], msg, &rust_paths, &mut checks)?;
        }
    }
    std::fs::write(out_dir.join("checks.rs"), checks)?;

    prost_build::Config::new()
        .include_file("mod.rs")
        .compile_fds(fds)?;
    Ok(())
}

/// Maps every fully qualified proto type name (`.IM.BaseDefine.UserInfo`)
/// to the Rust path prost-build gives it (`crate::im::base_define::UserInfo`).
fn collect_rust_paths(fds: &FileDescriptorSet) -> HashMap<String, String> {
    fn module_of(package: &str) -> String {
        package
            .split('.')
            .map(|p| p.to_snake_case())
            .collect::<Vec<_>>()
            .join("::")
    }
    fn walk(
        proto_prefix: &str,
        rust_prefix: &str,
        msgs: &[DescriptorProto],
        out: &mut HashMap<String, String>,
    ) {
        for m in msgs {
            let proto = format!("{proto_prefix}.{}", m.name());
            let rust = format!("{rust_prefix}::{}", m.name().to_upper_camel_case());
            for e in &m.enum_type {
                let nested_mod = format!("{rust_prefix}::{}", m.name().to_snake_case());
                out.insert(
                    format!("{proto}.{}", e.name()),
                    format!("{nested_mod}::{}", e.name().to_upper_camel_case()),
                );
            }
            let nested_mod = format!("{rust_prefix}::{}", m.name().to_snake_case());
            walk(&proto, &nested_mod, &m.nested_type, out);
            out.insert(proto, rust);
        }
    }
    let mut out = HashMap::new();
    for file in &fds.file {
        let proto_prefix = format!(".{}", file.package());
        let rust_prefix = format!("crate::{}", module_of(file.package()));
        for e in &file.enum_type {
            out.insert(
                format!("{proto_prefix}.{}", e.name()),
                format!("{rust_prefix}::{}", e.name().to_upper_camel_case()),
            );
        }
        walk(&proto_prefix, &rust_prefix, &file.message_type, &mut out);
    }
    out
}

/// Relabels required fields and retypes strings of one message (and its
/// nested messages), appending its `CheckRequired` impl to `checks`.
fn rewrite_message(
    package: &str,
    parents: &[&str],
    msg: &mut DescriptorProto,
    rust_paths: &HashMap<String, String>,
    checks: &mut String,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut proto_name = format!(".{package}");
    for p in parents {
        proto_name.push('.');
        proto_name.push_str(p);
    }
    proto_name.push('.');
    proto_name.push_str(msg.name());
    let rust_type = rust_paths
        .get(&proto_name)
        .ok_or_else(|| format!("no rust path for {proto_name}"))?
        .clone();

    let mut body = String::new();
    for field in &mut msg.field {
        let name = field.name().to_snake_case();
        let label = field.label();
        let ty = field.r#type();
        let what = format!("{}.{}", msg.name.as_deref().unwrap_or(""), field.name());
        match (label, ty) {
            (Label::Required, Type::Enum) => {
                let enum_path = rust_paths
                    .get(field.type_name())
                    .ok_or_else(|| format!("no rust path for {}", field.type_name()))?;
                writeln!(
                    body,
                    "        match self.{name} {{ Some(v) if {enum_path}::try_from(v).is_ok() => {{}} _ => return Err(crate::MissingField(\"{what}\")) }}"
                )?;
            }
            (Label::Required, Type::Message) => {
                writeln!(
                    body,
                    "        match &self.{name} {{ Some(m) => crate::CheckRequired::check_required(m)?, None => return Err(crate::MissingField(\"{what}\")) }}"
                )?;
            }
            (Label::Required, _) => {
                writeln!(
                    body,
                    "        if self.{name}.is_none() {{ return Err(crate::MissingField(\"{what}\")); }}"
                )?;
            }
            (Label::Optional, Type::Message) => {
                writeln!(
                    body,
                    "        if let Some(m) = &self.{name} {{ crate::CheckRequired::check_required(m)?; }}"
                )?;
            }
            (Label::Repeated, Type::Message) => {
                writeln!(
                    body,
                    "        for m in &self.{name} {{ crate::CheckRequired::check_required(m)?; }}"
                )?;
            }
            _ => {}
        }
        if label == Label::Required {
            field.set_label(Label::Optional);
        }
        if ty == Type::String {
            field.set_type(Type::Bytes);
        }
    }
    writeln!(
        checks,
        "impl crate::CheckRequired for {rust_type} {{\n    fn check_required(&self) -> Result<(), crate::MissingField> {{\n{body}        Ok(())\n    }}\n}}\n"
    )?;

    let mut child_parents: Vec<&str> = parents.to_vec();
    let own_name = msg.name().to_string();
    child_parents.push(&own_name);
    for nested in &mut msg.nested_type {
        rewrite_message(package, &child_parents, nested, rust_paths, checks)?;
    }
    Ok(())
}
