use super::*;

#[test]
fn addresses_parse() {
    assert_eq!(
        "tcp:127.0.0.1:7878".parse::<DeviceAddr>(),
        Ok(DeviceAddr::Tcp("127.0.0.1:7878".into()))
    );
    assert_eq!(
        "/dev/ttyUSB0".parse::<DeviceAddr>(),
        Ok(DeviceAddr::Serial("/dev/ttyUSB0".into()))
    );
    assert!("tcp:localhost".parse::<DeviceAddr>().is_err());
    assert!("udp:1.2.3.4:5".parse::<DeviceAddr>().is_err());
}

#[test]
fn signer_table_parses() {
    let t: toml::Table = toml::from_str(
        "device = \"tcp:127.0.0.1:7878\"\ntimeout = 3\n[[key]]\ndomain = \"example.com\"\nselector = \"dev\"\nkey_id = 1\n",
    )
    .unwrap();
    let c = DeviceConfig::from_table(&t).unwrap();
    assert_eq!(c.timeout, Duration::from_secs(3));
    assert_eq!(c.busy_timeout, DEFAULT_BUSY_TIMEOUT);
    assert_eq!(c.max_body, DEFAULT_MAX_BODY);
    let slots: Vec<u8> = c.keys_for("EXAMPLE.com.").map(|k| k.key_id).collect();
    assert_eq!(slots, [1]);
    for bad in [
        "device = \"tcp:x:1\"\nspeed = 3\n[[key]]\ndomain = \"a\"\nselector = \"b\"\nkey_id = 0\n",
        "device = \"tcp:x:1\"\n",
        "device = \"tcp:x:1\"\n[[key]]\ndomain = \"a b\"\nselector = \"s\"\nkey_id = 0\n",
        "device = \"tcp:x:1\"\n[[key]]\ndomain = \"a\"\nselector = \"s\"\nkey_id = 256\n",
        "device = \"tcp:x:1\"\ntimeout = 0\n[[key]]\ndomain = \"a\"\nselector = \"s\"\nkey_id = 0\n",
        "device = \"tcp:x:1\"\n[[key]]\ndomain = \"a\"\nselector = \"s\"\nkey_id = 0\n\
         [[key]]\ndomain = \"A\"\nselector = \"s\"\nkey_id = 1\n",
    ] {
        let t: toml::Table = toml::from_str(bad).unwrap();
        assert!(DeviceConfig::from_table(&t).is_err(), "{bad}");
    }
}

/// A device that never answers gives a timeout, not a hang.
#[tokio::test]
async fn silent_device_times_out() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(s);
    });
    let d = Device::new(
        DeviceAddr::Tcp(addr.to_string()),
        Duration::from_millis(200),
    );
    assert!(matches!(d.info().await, Err(DeviceError::Timeout)));
    hold.abort();
}
