/*
 * kafka-mock: a Kafka-protocol broker for dev and tests, built on librdkafka's mock cluster
 * (rdkafka_mock.h, an experimental API of librdkafka; see the header of the installed version for
 * what it exports: this file only uses functions present since librdkafka 2.0).
 *
 * Apache Kafka cannot be installed here; the mock cluster speaks the real wire protocol
 * (Produce, Fetch, ListOffsets, Metadata, consumer groups, offset commits), so both kafkajs and
 * node-rdkafka talk to it like to a real cluster. It has no CreateTopics API, so topics are created
 * here, by argument or command.
 *
 * Usage: kafka-mock [--brokers N] [--topic NAME:PARTITIONS[:RF]]... [--debug CONTEXTS]
 *
 * stdout protocol (line based, one line per event, flushed at once):
 *   BOOTSTRAP host:port,host:port,...      printed once, when every listener is up
 *   OK <command>                           the command on stdin took effect
 *   ERR <command>: <reason>                it did not
 * stdin commands, one per line, each acknowledged by exactly one OK/ERR line, in order:
 *   topic NAME PARTITIONS [RF]             create a topic
 *   down BROKER|-1                         disconnect a broker (-1: all) and refuse connections
 *   up BROKER|-1                           accept connections again
 *   errors APIKEY ERR[,ERR...]             the next requests of that API key fail with these codes
 *                                          (numeric Kafka error codes; -195 = transport: disconnect)
 *   clear-errors APIKEY                    drop pushed errors for that API key
 *   leader TOPIC PARTITION BROKER|-1       move a partition's leader
 *   rtt BROKER|-1 MS                       add round-trip delay
 *   coordinator group|transaction KEY BROKER
 *   ping                                   no-op (answers OK ping)
 *   quit                                   shut the cluster down and exit 0
 * End of stdin is taken as quit, so the broker never outlives the process that started it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 256
#define MAX_ERRS 64

static rd_kafka_mock_cluster_t *mcluster;

static void fail(const char *msg) {
        fprintf(stderr, "kafka-mock: %s\n", msg);
        exit(2);
}

static int parse_int(const char *s, long *out) {
        char *end;
        if (!s || !*s)
                return -1;
        errno = 0;
        *out  = strtol(s, &end, 10);
        return (errno || *end) ? -1 : 0;
}

/* "name:partitions[:rf]" */
static rd_kafka_resp_err_t create_topic_spec(char *spec, char *why, size_t whysz) {
        char *name = strtok(spec, ":");
        char *p    = strtok(NULL, ":");
        char *rf   = strtok(NULL, ":");
        long np = 1, nrf = 1;
        if (!name || (p && parse_int(p, &np)) || (rf && parse_int(rf, &nrf)) || np < 1 || nrf < 1) {
                snprintf(why, whysz, "bad topic spec (want NAME:PARTITIONS[:RF])");
                return RD_KAFKA_RESP_ERR__INVALID_ARG;
        }
        return rd_kafka_mock_topic_create(mcluster, name, (int)np, (int)nrf);
}

static void reply(const char *cmd, rd_kafka_resp_err_t err, const char *why) {
        if (!err && !why)
                printf("OK %s\n", cmd);
        else
                printf("ERR %s: %s\n", cmd, why ? why : rd_kafka_err2str(err));
        fflush(stdout);
}

/* Runs one stdin command; returns 1 on quit. */
static int run_command(char *line) {
        char cmdcopy[1024];
        char *argv[8];
        int argc = 0;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        const char *bad = NULL;
        long a, b, c;

        line[strcspn(line, "\r\n")] = '\0';
        snprintf(cmdcopy, sizeof(cmdcopy), "%s", line);
        for (char *tok = strtok(line, " \t"); tok && argc < 8; tok = strtok(NULL, " \t"))
                argv[argc++] = tok;
        if (argc == 0)
                return 0; /* blank lines are ignored and not acknowledged */

        if (!strcmp(argv[0], "quit")) {
                reply(cmdcopy, 0, NULL);
                return 1;
        } else if (!strcmp(argv[0], "ping")) {
        } else if (!strcmp(argv[0], "topic") && (argc == 3 || argc == 4)) {
                if (parse_int(argv[2], &a) || a < 1 || (argc == 4 && (parse_int(argv[3], &b) || b < 1)))
                        bad = "usage: topic NAME PARTITIONS [RF]";
                else
                        err = rd_kafka_mock_topic_create(mcluster, argv[1], (int)a, argc == 4 ? (int)b : 1);
        } else if ((!strcmp(argv[0], "down") || !strcmp(argv[0], "up")) && argc == 2) {
                if (parse_int(argv[1], &a))
                        bad = "usage: down|up BROKER";
                else if (!strcmp(argv[0], "down"))
                        err = rd_kafka_mock_broker_set_down(mcluster, (int32_t)a);
                else
                        err = rd_kafka_mock_broker_set_up(mcluster, (int32_t)a);
        } else if (!strcmp(argv[0], "errors") && argc == 3) {
                rd_kafka_resp_err_t errs[MAX_ERRS];
                size_t n = 0;
                if (parse_int(argv[1], &a)) {
                        bad = "usage: errors APIKEY ERR[,ERR...]";
                } else {
                        for (char *e = strtok(argv[2], ","); e; e = strtok(NULL, ",")) {
                                if (n == MAX_ERRS || parse_int(e, &b)) {
                                        bad = "bad error list";
                                        break;
                                }
                                errs[n++] = (rd_kafka_resp_err_t)b;
                        }
                        if (!bad)
                                rd_kafka_mock_push_request_errors_array(mcluster, (int16_t)a, n, errs);
                }
        } else if (!strcmp(argv[0], "clear-errors") && argc == 2) {
                if (parse_int(argv[1], &a))
                        bad = "usage: clear-errors APIKEY";
                else
                        rd_kafka_mock_clear_request_errors(mcluster, (int16_t)a);
        } else if (!strcmp(argv[0], "leader") && argc == 4) {
                if (parse_int(argv[2], &b) || parse_int(argv[3], &c))
                        bad = "usage: leader TOPIC PARTITION BROKER";
                else
                        err = rd_kafka_mock_partition_set_leader(mcluster, argv[1], (int32_t)b, (int32_t)c);
        } else if (!strcmp(argv[0], "rtt") && argc == 3) {
                if (parse_int(argv[1], &a) || parse_int(argv[2], &b))
                        bad = "usage: rtt BROKER MS";
                else
                        err = rd_kafka_mock_broker_set_rtt(mcluster, (int32_t)a, (int)b);
        } else if (!strcmp(argv[0], "coordinator") && argc == 4) {
                if (parse_int(argv[3], &c))
                        bad = "usage: coordinator group|transaction KEY BROKER";
                else
                        err = rd_kafka_mock_coordinator_set(mcluster, argv[1], argv[2], (int32_t)c);
        } else {
                bad = "unknown command or wrong number of arguments";
        }
        reply(cmdcopy, err, bad);
        return 0;
}

int main(int argc, char **argv) {
        char errstr[512];
        char why[256];
        int brokers = 3;
        const char *debug = NULL;
        char *topics[MAX_TOPICS];
        int ntopics = 0;

        for (int i = 1; i < argc; i++) {
                long v;
                if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
                        if (parse_int(argv[++i], &v) || v < 1 || v > 32)
                                fail("--brokers wants 1..32");
                        brokers = (int)v;
                } else if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
                        if (ntopics == MAX_TOPICS)
                                fail("too many --topic");
                        topics[ntopics++] = argv[++i];
                } else if (!strcmp(argv[i], "--debug") && i + 1 < argc) {
                        debug = argv[++i];
                } else {
                        fprintf(stderr, "usage: %s [--brokers N] [--topic NAME:PARTITIONS[:RF]]... [--debug CONTEXTS]\n", argv[0]);
                        return 2;
                }
        }

        /* The mock cluster needs an rd_kafka_t for its bookkeeping (logging, its own thread).
         * A producer with no bootstrap servers is the lightest one; it never sends anything. */
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        /* Quiet the "no bootstrap.servers" notice (level 5) about our own bookkeeping handle. */
        if (!debug && rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
                fail(errstr);
        if (debug && rd_kafka_conf_set(conf, "debug", debug, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
                fail(errstr);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk)
                fail(errstr);
        mcluster = rd_kafka_mock_cluster_new(rk, brokers);
        if (!mcluster)
                fail("rd_kafka_mock_cluster_new failed");

        for (int i = 0; i < ntopics; i++) {
                char spec[512];
                snprintf(spec, sizeof(spec), "%s", topics[i]);
                why[0] = '\0';
                rd_kafka_resp_err_t err = create_topic_spec(spec, why, sizeof(why));
                if (err) {
                        fprintf(stderr, "kafka-mock: --topic %s: %s\n", topics[i], why[0] ? why : rd_kafka_err2str(err));
                        return 2;
                }
        }

        /* Listeners are bound inside rd_kafka_mock_cluster_new, so the address is usable now. */
        printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
        fflush(stdout);

        signal(SIGPIPE, SIG_IGN);
        char line[1024];
        while (fgets(line, sizeof(line), stdin)) {
                if (run_command(line))
                        break;
        }

        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(rk);
        return 0;
}
