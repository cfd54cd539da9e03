//! `mass device`: look at a signing device and provision its keys
//! (`firmware/PROTOCOL.md`). The key goes in once and never comes back out.

use crate::keys::record::record_data;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use mass_core::link::SEED_LEN;

use crate::cli::CliError;
use crate::device::{Device, DeviceAddr, key_from_pem};

/// `mass device` arguments.
#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// The device: `tcp:HOST:PORT` (e.g. `cargo xtask qemu`) or a serial device path.
    #[arg(long)]
    pub device: String,
    /// Seconds to wait for each read or write on the link.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    #[command(subcommand)]
    pub action: DeviceAction,
}

/// What to do with the device.
#[derive(Debug, Subcommand)]
pub enum DeviceAction {
    /// Print the firmware, its limits and its key slots.
    Info,
    /// Put a PKCS#8 PEM key (RSA or Ed25519) into an empty slot, with a fresh
    /// RNG seed for RSA blinding.
    Provision {
        /// The slot.
        #[arg(long)]
        key_id: u8,
        /// The key file (as `mass keygen` writes it).
        #[arg(long)]
        key: PathBuf,
    },
}

/// Run `mass device`.
pub fn run(args: &DeviceArgs) -> Result<(), CliError> {
    let addr: DeviceAddr = args.device.parse()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let dev = Device::new(addr, Duration::from_secs(args.timeout.max(1)));
    rt.block_on(async {
        match &args.action {
            DeviceAction::Info => {
                let i = dev.info().await?;
                println!("{} on {} (protocol {})", i.firmware, i.board, i.protocol);
                println!(
                    "max payload {} B, header capacity {} B / {} fields",
                    i.max_payload, i.header_bytes, i.header_fields
                );
                for s in i.slots {
                    match s.algorithm {
                        // The record to publish for the key the device holds.
                        Some(a) => println!(
                            "slot {}: {} ({} bits): {}",
                            s.key_id,
                            a.as_str(),
                            s.bits,
                            record_data(a, &s.public_key)
                        ),
                        None => println!("slot {}: empty", s.key_id),
                    }
                }
                Ok(())
            }
            DeviceAction::Provision { key_id, key } => {
                let pem = zeroize::Zeroizing::new(
                    std::fs::read_to_string(key).map_err(CliError::io(key))?,
                );
                let (algorithm, der) = key_from_pem(&pem)
                    .map_err(|e| crate::keys::KeyError::File(key.clone(), Box::new(e)))?;
                let mut seed = zeroize::Zeroizing::new([0u8; SEED_LEN]);
                getrandom::fill(seed.as_mut()).map_err(|_| CliError::Randomness)?;
                dev.provision(*key_id, algorithm, &der, &seed).await?;
                println!("slot {key_id}: {} key provisioned", algorithm.as_str());
                Ok(())
            }
        }
    })
}
