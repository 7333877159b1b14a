// Ferry's library surface. Resource modules are exported as namespaces named like their
// files (gophercloud style): `compute.servers.listServers(site.compute, ...)`.
export * from './errors.js';
export * from './log.js';
export { Redactor, redactUrl } from './redact.js';
export * from './config/clouds.js';
export { parseYamlText, readYamlFile, type YamlSource } from './config/yaml-source.js';

export * from './openstack/transport.js';
export * from './openstack/auth.js';
export * from './openstack/catalog.js';
export * from './openstack/microversion.js';
export * from './openstack/service-client.js';
export * from './openstack/site.js';
export * from './openstack/paginate.js';
export * from './openstack/wait.js';
export * from './openstack/fault.js';
export * from './openstack/check.js';

import * as applicationcredentials from './openstack/identity/applicationcredentials.js';
import * as projects from './openstack/identity/projects.js';
import * as tokens from './openstack/identity/tokens.js';
export const identity = { applicationcredentials, projects, tokens };

import * as flavors from './openstack/compute/flavors.js';
import * as keypairs from './openstack/compute/keypairs.js';
import * as computeLimits from './openstack/compute/limits.js';
import * as servergroups from './openstack/compute/servergroups.js';
import * as servers from './openstack/compute/servers.js';
import * as volumeattachments from './openstack/compute/volumeattachments.js';
export const compute = { flavors, keypairs, limits: computeLimits, servergroups, servers, volumeattachments };

import * as backups from './openstack/blockstorage/backups.js';
import * as groups from './openstack/blockstorage/groups.js';
import * as volumeLimits from './openstack/blockstorage/limits.js';
import * as snapshots from './openstack/blockstorage/snapshots.js';
import * as types from './openstack/blockstorage/types.js';
import * as volumes from './openstack/blockstorage/volumes.js';
export const blockstorage = { backups, groups, limits: volumeLimits, snapshots, types, volumes };

import * as images from './openstack/image/images.js';
export const image = { images };

import * as floatingips from './openstack/network/floatingips.js';
import * as networks from './openstack/network/networks.js';
import * as ports from './openstack/network/ports.js';
import * as routers from './openstack/network/routers.js';
import * as securitygroups from './openstack/network/securitygroups.js';
import * as subnets from './openstack/network/subnets.js';
import * as tags from './openstack/network/tags.js';
export const network = { floatingips, networks, ports, routers, securitygroups, subnets, tags };

import * as events from './openstack/orchestration/events.js';
import * as resources from './openstack/orchestration/resources.js';
import * as stacks from './openstack/orchestration/stacks.js';
import * as templates from './openstack/orchestration/templates.js';
export const orchestration = { events, resources, stacks, templates };

import * as containers from './openstack/objectstore/containers.js';
import * as objects from './openstack/objectstore/objects.js';
export const objectstore = { containers, objects };
