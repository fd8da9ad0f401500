// varpd exports the libvarpd_* and nvlist_* functions its plugins call:
// the binary (and the test executables, which load plugins too) must put
// them in the dynamic symbol table.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg=-rdynamic");
    }
}
