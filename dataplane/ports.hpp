// Ports: from [[port]] to started DPDK ports, with RSS, MTU, offloads and a mempool.
#pragma once

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/capture/capture.hpp"
#include "sluice/config.hpp"

namespace sluice::dataplane {

// The Toeplitz key that hashes both directions of a conversation alike: 0x6D5A repeated
// (Woo and Park, "Scalable TCP Session Monitoring with Symmetric Receive-side Scaling").
inline constexpr std::uint8_t kSymmetricRssKey[52] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
    0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
    0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

struct Port {
    std::uint16_t id = 0;  // the DPDK port; a capture's: its place among the ports
    const config::Port* config = nullptr;
    std::string name;
    bool trace = false;  // a capture replayed in its own time (net_pcap, or `capture`)
    std::unique_ptr<CaptureReader> capture;  // a capture its worker reads itself
    bool rss = false;                        // RSS spreads flows over its queues
    int timestamp_offset = -1;
    std::uint64_t timestamp_flag = 0;
};

// Opens every capture port, before EAL starts, so that a capture the reader refuses stops the
// dataplane at once; false after printing why.
bool open_captures(const config::Config& c, std::vector<Port>& ports);

// Finds, configures and starts every configured device port, after the captures that
// open_captures put in `ports` (a run has captures or devices, never both); false after
// printing what to change.
bool start_ports(const config::Config& c, rte_mempool* pool, std::vector<Port>& ports);

// Mbufs the ports need: every RX descriptor, plus what the workers hold in a burst.
unsigned mbufs_needed(const config::Config& c);

// Bytes of data room (headroom included) each mbuf needs: 2 KB when every port whose MTU
// needs more can scatter a frame over several mbufs, else room for the largest frame.
std::uint16_t mbuf_data_room(const config::Config& c);

// Whether Toeplitz with `key` gives both directions of a few synthetic conversations the same
// hash, computed in software (rte_softrss) for the hash types in use.
bool rss_is_symmetric(const std::uint8_t* key, std::uint8_t key_len, bool with_ports);

void stop_ports(const std::vector<Port>& ports);

// "link up, 10 Gbps, full duplex" or "link down".
std::string link_text(const rte_eth_link& link);

}  // namespace sluice::dataplane
