fn main() {
    println!("opsctl");
}
