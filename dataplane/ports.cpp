// Ports: from [[port]] to started DPDK ports, with RSS, MTU, offloads and a mempool.
#include "dataplane/ports.hpp"

#include <rte_mbuf_dyn.h>
#include <rte_thash.h>

#include <algorithm>

#include "sluice/log.hpp"

namespace sluice::dataplane {
namespace {

constexpr std::uint32_t kFrameOverhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 2 * 4;  // 2 tags
constexpr std::uint16_t kStandardDataRoom = 2048;

bool is_trace(const config::Port& p) {
    return p.device_name().starts_with("net_pcap") &&
           p.device.find("rx_pcap=") != std::string::npos;
}

std::uint64_t rss_types(const config::Port& p) {
    std::uint64_t types = RTE_ETH_RSS_IP;
    if (p.rss == config::RssMode::ip_port)
        types |= RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_SCTP;
    return types;
}

void log_link(std::uint16_t id, const std::string& name) {
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(id, &link) != 0) return;
    SLUICE_INFO("port %u (%s): %s", id, name.c_str(), link_text(link).c_str());
}

}  // namespace

std::string link_text(const rte_eth_link& link) {
    if (!link.link_status) return "link down";
    std::string speed = "unknown speed";
    if (link.link_speed != RTE_ETH_SPEED_NUM_NONE && link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN)
        speed = link.link_speed >= 1000 && link.link_speed % 1000 == 0
                    ? std::to_string(link.link_speed / 1000) + " Gbps"
                    : std::to_string(link.link_speed) + " Mbps";
    return "link up, " + speed + (link.link_duplex ? ", full duplex" : ", half duplex");
}

unsigned mbufs_needed(const config::Config& c) {
    unsigned n = 0;
    for (const auto& p : c.ports)
        if (!p.device.empty()) n += p.rx_queues * p.rx_descriptors;
    const auto workers = static_cast<unsigned>(c.dataplane.worker_cores.cpus.size());
    return n + workers * (64 + 256) + 1024;
}

std::uint16_t mbuf_data_room(const config::Config& c) {
    // Standard buffers when every jumbo port can scatter a frame over several; otherwise
    // buffers that hold the largest frame whole.
    std::uint32_t frame = kStandardDataRoom;
    for (const auto& p : c.ports) {
        if (p.mtu + kFrameOverhead <= kStandardDataRoom || p.device.empty()) continue;
        std::uint16_t id = 0;
        rte_eth_dev_info info{};
        const std::string name(p.device_name());
        const bool scatter = rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0 &&
                             rte_eth_dev_info_get(id, &info) == 0 &&
                             (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) != 0;
        if (!scatter) frame = std::max<std::uint32_t>(frame, p.mtu + kFrameOverhead);
    }
    return static_cast<std::uint16_t>(RTE_PKTMBUF_HEADROOM + frame);
}

bool rss_is_symmetric(const std::uint8_t* key, std::uint8_t key_len, bool with_ports) {
    if (key_len < 40) return false;
    const std::uint32_t addresses[][2] = {
        {0x0a000001, 0xc0000201}, {0xc0a80164, 0x08080808}, {0x7f000001, 0x7f000002}};
    const std::uint16_t ports[][2] = {{51000, 443}, {53, 33333}, {1, 65535}};
    for (const auto& a : addresses) {
        for (const auto& p : ports) {
            std::uint32_t forward[3] = {a[0], a[1], std::uint32_t{p[0]} << 16 | p[1]};
            std::uint32_t reverse[3] = {a[1], a[0], std::uint32_t{p[1]} << 16 | p[0]};
            const std::uint32_t words = with_ports ? 3 : 2;
            if (rte_softrss(forward, words, key) != rte_softrss(reverse, words, key)) return false;
        }
    }
    return true;
}

bool open_captures(const config::Config& c, std::vector<Port>& ports) {
    for (std::size_t i = 0; i < c.ports.size(); ++i) {
        const config::Port& cfg = c.ports[i];
        if (cfg.capture.empty()) continue;
        Port port;
        port.config = &cfg;
        port.name = cfg.capture.substr(cfg.capture.rfind('/') + 1);
        const std::string where = "port[" + std::to_string(i + 1) + "] (" + port.name + ")";
        port.id = static_cast<std::uint16_t>(i);
        port.trace = true;
        port.capture = std::make_unique<CaptureReader>();
        if (!port.capture->open(cfg.capture)) {
            SLUICE_ERROR("%s: cannot replay the capture: %s", where.c_str(),
                         port.capture->error().c_str());
            return false;
        }
        ports.push_back(std::move(port));
    }
    return true;
}

bool start_ports(const config::Config& c, rte_mempool* pool, std::vector<Port>& ports) {
    const std::uint16_t data_room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
    for (std::size_t i = 0; i < c.ports.size(); ++i) {
        const config::Port& cfg = c.ports[i];
        if (!cfg.capture.empty()) {  // opened before EAL (open_captures): ports[i]
            const Port& p = ports[i];
            SLUICE_INFO(
                "port[%zu] (%s): port %u, a capture its worker reads itself, replayed in its own "
                "time (%s)",
                i + 1, p.name.c_str(), p.id, p.capture->describe().c_str());
            continue;
        }
        Port port;
        port.config = &cfg;
        port.name = std::string(cfg.device_name());
        port.trace = is_trace(cfg);
        const std::string where = "port[" + std::to_string(i + 1) + "] (" + port.name + ")";
        if (rte_eth_dev_get_port_by_name(port.name.c_str(), &port.id) != 0) {
            SLUICE_ERROR(
                "%s: DPDK did not find the device; check the PCI address "
                "(dpdk-devbind.py --status) or the vdev string in port[%zu].device, and "
                "the EAL messages above",
                where.c_str(), i + 1);
            return false;
        }
        rte_eth_dev_info info{};
        if (rte_eth_dev_info_get(port.id, &info) != 0) {
            SLUICE_ERROR("%s: cannot read the device's capabilities", where.c_str());
            return false;
        }
        if (cfg.rx_queues > info.max_rx_queues) {
            SLUICE_ERROR("%s: the device has at most %u RX queues, port[%zu].rx_queues is %u",
                         where.c_str(), info.max_rx_queues, i + 1, cfg.rx_queues);
            return false;
        }
        if (info.max_mtu != 0 && cfg.mtu > info.max_mtu) {
            SLUICE_ERROR("%s: the device takes an MTU of at most %u, port[%zu].mtu is %u",
                         where.c_str(), info.max_mtu, i + 1, cfg.mtu);
            return false;
        }

        rte_eth_conf conf{};
        conf.rxmode.mtu = cfg.mtu;
        std::uint64_t offloads = 0;
        if (port.trace && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP))
            offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
        if (cfg.mtu + kFrameOverhead > data_room &&
            (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER))
            offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
        // The kernel spreads an AF_PACKET port's packets over its sockets itself, with a
        // symmetric flow hash (PACKET_FANOUT_HASH).
        const bool kernel_fanout = std::string_view(info.driver_name) == "net_af_packet";
        if (cfg.rx_queues > 1 && kernel_fanout) {
            SLUICE_INFO("%s: %u queues spread by the kernel's symmetric fanout hash", where.c_str(),
                        cfg.rx_queues);
        } else if (cfg.rx_queues > 1) {
            const std::uint64_t types = rss_types(cfg) & info.flow_type_rss_offloads;
            if (types == 0) {
                SLUICE_ERROR(
                    "%s: %u RX queues need RSS, which the device does not offer for IP; "
                    "set port[%zu].rx_queues = 1",
                    where.c_str(), cfg.rx_queues, i + 1);
                return false;
            }
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_key = const_cast<std::uint8_t*>(kSymmetricRssKey);
            conf.rx_adv_conf.rss_conf.rss_key_len =
                info.hash_key_size != 0 ? info.hash_key_size : 40;
            conf.rx_adv_conf.rss_conf.rss_hf = types;
            if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH)
                offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
            port.rss = true;
        }
        conf.rxmode.offloads = offloads;

        // Receive only; some drivers want a TX queue all the same.
        std::uint16_t tx_queues = 0;
        int rc = rte_eth_dev_configure(port.id, cfg.rx_queues, tx_queues, &conf);
        if (rc != 0) {
            tx_queues = 1;
            rc = rte_eth_dev_configure(port.id, cfg.rx_queues, tx_queues, &conf);
        }
        if (rc != 0) {
            SLUICE_ERROR("%s: cannot configure %u RX queues, MTU %u: %s", where.c_str(),
                         cfg.rx_queues, cfg.mtu, rte_strerror(-rc));
            return false;
        }
        std::uint16_t rx_desc = cfg.rx_descriptors, tx_desc = 512;
        rte_eth_dev_adjust_nb_rx_tx_desc(port.id, &rx_desc, &tx_desc);
        if (rx_desc != cfg.rx_descriptors)
            SLUICE_WARN("%s: the device uses %u RX descriptors per queue, not %u", where.c_str(),
                        rx_desc, cfg.rx_descriptors);
        rte_eth_rxconf rxconf = info.default_rxconf;
        rxconf.offloads = offloads;
        const int socket = rte_eth_dev_socket_id(port.id);
        for (std::uint16_t q = 0; q < cfg.rx_queues; ++q) {
            rc = rte_eth_rx_queue_setup(port.id, q, rx_desc,
                                        socket < 0 ? SOCKET_ID_ANY : static_cast<unsigned>(socket),
                                        &rxconf, pool);
            if (rc != 0) {
                SLUICE_ERROR("%s: cannot set up RX queue %u: %s", where.c_str(), q,
                             rte_strerror(-rc));
                return false;
            }
        }
        for (std::uint16_t q = 0; q < tx_queues; ++q) {
            rc = rte_eth_tx_queue_setup(port.id, q, tx_desc, SOCKET_ID_ANY, nullptr);
            if (rc != 0) {
                SLUICE_ERROR("%s: cannot set up a TX queue: %s", where.c_str(), rte_strerror(-rc));
                return false;
            }
        }
        if ((rc = rte_eth_dev_start(port.id)) != 0) {
            SLUICE_ERROR("%s: cannot start: %s", where.c_str(), rte_strerror(-rc));
            return false;
        }
        if (cfg.promiscuous && (rc = rte_eth_promiscuous_enable(port.id)) != 0)
            SLUICE_WARN(
                "%s: cannot enable promiscuous mode (%s): only frames addressed to the "
                "port are seen",
                where.c_str(), rte_strerror(-rc));
        if (port.trace) {
            port.timestamp_offset =
                rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
            const int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
            if (port.timestamp_offset >= 0 && bit >= 0)
                port.timestamp_flag = 1ull << bit;
            else
                SLUICE_WARN(
                    "%s: the capture's timestamps are not available: packets are timed "
                    "as they are read",
                    where.c_str());
        }

        SLUICE_INFO("%s: port %u, driver %s, %u RX queue%s of %u descriptors, MTU %u%s%s%s",
                    where.c_str(), port.id, info.driver_name, cfg.rx_queues,
                    cfg.rx_queues == 1 ? "" : "s", rx_desc, cfg.mtu,
                    cfg.promiscuous ? ", promiscuous" : "",
                    (offloads & RTE_ETH_RX_OFFLOAD_SCATTER) ? ", scatter" : "",
                    port.trace ? ", replaying a capture in its own time" : "");
        if (port.rss) {
            rte_eth_rss_conf used{};
            std::uint8_t key[64] = {};
            used.rss_key = key;
            used.rss_key_len = sizeof(key);
            const bool read_back = rte_eth_dev_rss_hash_conf_get(port.id, &used) == 0;
            const std::uint8_t* k = read_back ? key : kSymmetricRssKey;
            const bool ports_hashed = (conf.rx_adv_conf.rss_conf.rss_hf & ~RTE_ETH_RSS_IP) != 0;
            if (rss_is_symmetric(k, read_back ? used.rss_key_len : 40, ports_hashed))
                SLUICE_INFO("%s: RSS on %s, symmetric: both directions of a flow reach one worker",
                            where.c_str(), ports_hashed ? "addresses and ports" : "addresses");
            else
                SLUICE_WARN(
                    "%s: the device's RSS is not symmetric: the two directions of a flow "
                    "may reach different workers and be metered as two flows",
                    where.c_str());
        } else if (cfg.rx_queues == 1) {
            SLUICE_INFO("%s: one RX queue, one worker: no RSS needed", where.c_str());
        }
        log_link(port.id, port.name);
        ports.push_back(std::move(port));
    }
    return true;
}

void stop_ports(const std::vector<Port>& ports) {
    for (const auto& p : ports) {
        if (p.capture) continue;
        rte_eth_dev_stop(p.id);
        rte_eth_dev_close(p.id);
    }
}

}  // namespace sluice::dataplane
