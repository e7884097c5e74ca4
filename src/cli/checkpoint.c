/* checkpoint.c - `capsa checkpoint ID` and `capsa restore ID`, with runc's
 * flags (docs/checkpoint.md). CRIU does the work: --criu names its binary. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    O_IMAGE = 256,
    O_WORK,
    O_PARENT,
    O_LEAVE,
    O_TCP,
    O_TCP_SKIP,
    O_LINK_REMAP,
    O_EXT_UNIX,
    O_SHELL,
    O_LAZY,
    O_STATUS_FD,
    O_PAGE_SERVER,
    O_FILE_LOCKS,
    O_PRE_DUMP,
    O_CG_MODE,
    O_EMPTY_NS,
    O_AUTO_DEDUP,
    O_EXTERNAL,
    O_LSM_PROFILE,
    O_LSM_MOUNT,
    O_CONSOLE,
    O_BUNDLE,
    O_DETACH,
    O_PID_FILE,
    O_NO_SUBREAPER,
    O_NO_PIVOT,
    O_HELP,
};

#define MAX_LIST 64

struct cr_args {
    struct capsa_checkpoint_opts o;
    struct capsa_create_opts co;
    bool detach;
    const char *empty_ns[MAX_LIST];
    const char *external[MAX_LIST];
};

/* The flags both commands take; restore-only and checkpoint-only ones are
 * refused by the other (restore: true for the restore command). */
static int parse(struct cli *cli, const char *cmd, bool restore, int argc, char **argv,
                 struct cr_args *a)
{
    static const struct option opts[] = {
        {"image-path", required_argument, NULL, O_IMAGE},
        {"work-path", required_argument, NULL, O_WORK},
        {"parent-path", required_argument, NULL, O_PARENT},
        {"leave-running", no_argument, NULL, O_LEAVE},
        {"tcp-established", no_argument, NULL, O_TCP},
        {"tcp-skip-in-flight", no_argument, NULL, O_TCP_SKIP},
        {"link-remap", no_argument, NULL, O_LINK_REMAP},
        {"ext-unix-sk", no_argument, NULL, O_EXT_UNIX},
        {"shell-job", no_argument, NULL, O_SHELL},
        {"lazy-pages", no_argument, NULL, O_LAZY},
        {"status-fd", required_argument, NULL, O_STATUS_FD},
        {"page-server", required_argument, NULL, O_PAGE_SERVER},
        {"file-locks", no_argument, NULL, O_FILE_LOCKS},
        {"pre-dump", no_argument, NULL, O_PRE_DUMP},
        {"manage-cgroups-mode", required_argument, NULL, O_CG_MODE},
        {"empty-ns", required_argument, NULL, O_EMPTY_NS},
        {"auto-dedup", no_argument, NULL, O_AUTO_DEDUP},
        {"external", required_argument, NULL, O_EXTERNAL},
        {"lsm-profile", required_argument, NULL, O_LSM_PROFILE},
        {"lsm-mount-context", required_argument, NULL, O_LSM_MOUNT},
        {"console-socket", required_argument, NULL, O_CONSOLE},
        {"bundle", required_argument, NULL, O_BUNDLE},
        {"detach", no_argument, NULL, O_DETACH},
        {"pid-file", required_argument, NULL, O_PID_FILE},
        {"no-subreaper", no_argument, NULL, O_NO_SUBREAPER},
        {"no-pivot", no_argument, NULL, O_NO_PIVOT},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    a->o.status_fd = -1;
    int c, li = -1;
    while ((c = getopt_long(argc, argv, ":b:dh", opts, &li)) != -1) {
        char name[64];
        if (li >= 0)
            snprintf(name, sizeof name, "--%s", opts[li].name);
        else
            snprintf(name, sizeof name, "%s",
                     optind > 0 && optind <= argc ? argv[optind - 1] : "?");
        li = -1;
        bool dump_only = c == O_PARENT || c == O_LEAVE || c == O_TCP_SKIP || c == O_LINK_REMAP ||
                         c == O_STATUS_FD || c == O_PAGE_SERVER || c == O_PRE_DUMP;
        bool restore_only = c == O_LSM_PROFILE || c == O_LSM_MOUNT || c == O_CONSOLE ||
                            c == O_BUNDLE || c == 'b' || c == O_DETACH || c == 'd' ||
                            c == O_PID_FILE || c == O_NO_SUBREAPER || c == O_NO_PIVOT;
        if ((restore && dump_only) || (!restore && restore_only))
            return cli_usage_error(cli, cmd, "unknown option %s", name), -1;
        switch (c) {
        case O_IMAGE:
            a->o.image_path = optarg;
            break;
        case O_WORK:
            a->o.work_path = optarg;
            break;
        case O_PARENT:
            a->o.parent_path = optarg;
            break;
        case O_LEAVE:
            a->o.leave_running = true;
            break;
        case O_TCP:
            a->o.tcp_established = true;
            break;
        case O_TCP_SKIP:
            a->o.tcp_skip_in_flight = true;
            break;
        case O_LINK_REMAP:
            a->o.link_remap = true;
            break;
        case O_EXT_UNIX:
            a->o.ext_unix_sk = true;
            break;
        case O_SHELL:
            a->o.shell_job = true;
            break;
        case O_LAZY:
            a->o.lazy_pages = true;
            break;
        case O_STATUS_FD: {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 0 || v > 65535)
                return cli_usage_error(cli, cmd, "--status-fd: invalid fd \"%s\"", optarg), -1;
            a->o.status_fd = (int)v;
            break;
        }
        case O_PAGE_SERVER:
            a->o.page_server = optarg;
            break;
        case O_FILE_LOCKS:
            a->o.file_locks = true;
            break;
        case O_PRE_DUMP:
            a->o.pre_dump = true;
            break;
        case O_CG_MODE:
            a->o.manage_cgroups_mode = optarg;
            break;
        case O_EMPTY_NS:
            if (a->o.n_empty_ns == MAX_LIST)
                return cli_usage_error(cli, cmd, "too many --empty-ns"), -1;
            a->empty_ns[a->o.n_empty_ns++] = optarg;
            break;
        case O_AUTO_DEDUP:
            a->o.auto_dedup = true;
            break;
        case O_EXTERNAL:
            if (a->o.n_external == MAX_LIST)
                return cli_usage_error(cli, cmd, "too many --external"), -1;
            a->external[a->o.n_external++] = optarg;
            break;
        case O_LSM_PROFILE:
            a->o.lsm_profile = optarg;
            break;
        case O_LSM_MOUNT:
            a->o.lsm_mount_context = optarg;
            break;
        case O_CONSOLE:
            a->co.console_socket = optarg;
            break;
        case 'b':
        case O_BUNDLE:
            a->co.bundle = optarg;
            break;
        case 'd':
        case O_DETACH:
            a->detach = true;
            break;
        case O_PID_FILE:
            a->co.pid_file = optarg;
            break;
        case O_NO_SUBREAPER:
            break; /* as for run: capsa sets no subreaper */
        case O_NO_PIVOT:
            a->co.no_pivot = true; /* CRIU restores the mounts itself */
            break;
        case 'h':
        case O_HELP:
            if (restore)
                printf("usage: capsa restore --image-path DIR [--work-path DIR] [--bundle DIR]\n"
                       "       [--detach] [--pid-file PATH] [--console-socket PATH]\n"
                       "       [--tcp-established] [--ext-unix-sk] [--shell-job] [--file-locks]\n"
                       "       [--manage-cgroups-mode MODE] [--empty-ns network] [--auto-dedup]\n"
                       "       [--lazy-pages] [--external VALUE] [--lsm-profile TYPE:NAME]\n"
                       "       [--lsm-mount-context CONTEXT] ID\n");
            else
                printf("usage: capsa checkpoint --image-path DIR [--work-path DIR]\n"
                       "       [--parent-path DIR] [--leave-running] [--pre-dump]\n"
                       "       [--tcp-established] [--tcp-skip-in-flight] [--link-remap]\n"
                       "       [--ext-unix-sk] [--shell-job] [--file-locks] [--auto-dedup]\n"
                       "       [--manage-cgroups-mode MODE] [--empty-ns network]\n"
                       "       [--lazy-pages] [--status-fd FD] [--page-server ADDRESS:PORT]\n"
                       "       [--external VALUE] ID\n");
            exit(0);
        case ':':
            return cli_usage_error(cli, cmd, "option %s needs a value", name), -1;
        default:
            return cli_usage_error(cli, cmd, "unknown option %s", name), -1;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(cli, cmd, "expects exactly one container ID"), -1;
    a->o.empty_ns = a->empty_ns;
    a->o.external = a->external;
    /* runc's default: ./checkpoint under the current directory. */
    if (a->o.image_path == NULL)
        a->o.image_path = "checkpoint";
    return optind;
}

int cmd_checkpoint(struct cli *cli, int argc, char **argv)
{
    struct cr_args a = {0};
    int i = parse(cli, "checkpoint", false, argc, argv, &a);
    if (i < 0)
        return 1;
    struct capsa_err err = {0};
    if (capsa_container_checkpoint(&cli->ctx, argv[i], &a.o, &err) < 0)
        return cli_fail(cli, "checkpoint", &err);
    return 0;
}

int cmd_restore(struct cli *cli, int argc, char **argv)
{
    struct cr_args a = {0};
    int i = parse(cli, "restore", true, argc, argv, &a);
    if (i < 0)
        return 1;
    struct capsa_err err = {0};
    int code = 0;
    if (capsa_container_restore(&cli->ctx, argv[i], &a.co, &a.o, a.detach, &code, &err) < 0)
        return cli_fail(cli, "restore", &err);
    return code;
}
