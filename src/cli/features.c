/* features.c - `capsa features`: the OCI features document. */
#include <stdio.h>
#include <stdlib.h>

#include "simple.h"

int cmd_features(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int i = cli_parse(cli, "features", "", argc, argv, opts, ":h", NULL, NULL);
    if (i < 0)
        return 1;
    struct capsa_err err = {0};
    char *json = NULL;
    if (capsa_features(&json, &err) < 0)
        return cli_fail(cli, "features", &err);
    puts(json);
    free(json);
    return 0;
}
