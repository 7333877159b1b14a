#!/bin/bash
# plugin.sh: Ferry's DevStack plugin. DevStack sources it at each phase as
#   source plugin.sh MODE [PHASE]
# and this file only dispatches; the work is in lib/ferry:
#
#   stack install      install_ferry
#   stack post-config  configure_ferry, create_ferry_accounts
#   stack extra        init_ferry, start_ferry
#   stack test-config  check_ferry
#   unstack            stop_ferry
#   clean              cleanup_ferry
#
# Enable it in local.conf (see local.conf.sample next to this file):
#   enable_plugin ferry <git URL of Ferry> [branch]

# Save trace setting
_XTRACE_FERRY_PLUGIN=$(set +o | grep xtrace)
set -o xtrace

# lib/ferry sits next to this file in every checkout of Ferry, wherever
# DevStack cloned it.
# shellcheck source=lib/ferry
source "$(dirname "${BASH_SOURCE[0]}")/lib/ferry"

if is_service_enabled ferry; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing Ferry"
        install_ferry

    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring Ferry"
        configure_ferry
        if is_service_enabled keystone; then
            create_ferry_accounts
        fi

    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Initializing and starting Ferry"
        init_ferry
        start_ferry

    elif [[ "$1" == "stack" && "$2" == "test-config" ]]; then
        echo_summary "Checking Ferry's sites"
        check_ferry
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_ferry
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_ferry
    fi
fi

# Restore xtrace
$_XTRACE_FERRY_PLUGIN
