#!/usr/bin/python3
"""site_setup.py: the site-level objects that need running Nova, Cinder,
Neutron and Glance. One process with REST calls instead of many `openstack` CLI
runs (about 2 s of Python start-up each). Idempotent.

  * waits until nova-compute and the three cinder services report "up" and
    the cinder scheduler knows the Ceph pool, then maps the compute host into
    cell1 (nova-manage cell_v2 discover_hosts);
  * flavors m1.tiny (1 vCPU, 512 MiB, 1 GiB) and m1.small (1, 2048, 10);
  * volume type 'ceph' (volume_backend_name=ceph);
  * generous quotas for projects admin and demo (nova, cinder, neutron);
  * public image 'lab-tiny' (1 MiB raw, deterministic bytes).

usage: site_setup.py SITE_IP ADMIN_PASSWORD NOVA_CONF
"""
import hashlib
import subprocess
import sys
import time

from keystoneauth1 import session
from keystoneauth1.identity import v3

ip, admin_pass, nova_conf = sys.argv[1:4]
auth = v3.Password(auth_url=f'http://{ip}:5000/v3', username='admin',
                   password=admin_pass, project_name='admin',
                   user_domain_id='default', project_domain_id='default')
s = session.Session(auth=auth)
NOVA = {'service_type': 'compute', 'interface': 'public'}
CINDER = {'service_type': 'volumev3', 'interface': 'public'}
NEUTRON = {'service_type': 'network', 'interface': 'public'}
GLANCE = {'service_type': 'image', 'interface': 'public'}

# Quotas: far above what any test suite here creates (item 2 of the lab issue).
NOVA_QUOTA = {'instances': 200, 'cores': 400, 'ram': 819200, 'key_pairs': 100,
              'metadata_items': 256, 'server_groups': 50, 'server_group_members': 50}
CINDER_QUOTA = {'volumes': 200, 'snapshots': 200, 'backups': 200, 'gigabytes': 2000,
                'backup_gigabytes': 2000, 'groups': 50, 'per_volume_gigabytes': -1}
NEUTRON_QUOTA = {'network': 100, 'subnet': 200, 'port': 500, 'router': 50,
                 'floatingip': 100, 'security_group': 100, 'security_group_rule': 1000}


def wait_services():
    deadline = time.time() + 240
    while True:
        try:
            nova = s.get('/os-services', endpoint_filter=NOVA).json()['services']
            cinder = s.get('/os-services', endpoint_filter=CINDER).json()['services']
            ok_nova = any(x['binary'] == 'nova-compute' and x['state'] == 'up' for x in nova)
            up_cinder = {x['binary'] for x in cinder if x['state'] == 'up'}
            # the scheduler must also have the backend's capabilities, or a
            # volume create right after lab-up fails with "No valid backend"
            pools = s.get('/scheduler-stats/get_pools', endpoint_filter=CINDER).json()['pools']
            if ok_nova and {'cinder-scheduler', 'cinder-volume', 'cinder-backup'} <= up_cinder and pools:
                return
            state = f'nova-compute up={ok_nova}, cinder up={sorted(up_cinder)}, scheduler pools={len(pools)}'
        except Exception as exc:  # APIs may still be starting
            state = repr(exc)
        if time.time() > deadline:
            sys.exit(f'services did not come up within 240 s: {state}')
        time.sleep(2)


def project_id(name):
    r = s.get(f'/projects?name={name}', endpoint_filter={'service_type': 'identity',
                                                          'interface': 'public'})
    return r.json()['projects'][0]['id']


def ensure_flavor(fid, name, vcpus, ram, disk):
    r = s.get(f'/flavors/{fid}', endpoint_filter=NOVA, raise_exc=False)
    if r.status_code == 200:
        return
    s.post('/flavors', endpoint_filter=NOVA, json={'flavor': {
        'id': fid, 'name': name, 'vcpus': vcpus, 'ram': ram, 'disk': disk}})


def ensure_volume_type():
    types = s.get('/types', endpoint_filter=CINDER).json()['volume_types']
    if any(t['name'] == 'ceph' for t in types):
        return
    s.post('/types', endpoint_filter=CINDER, json={'volume_type': {
        'name': 'ceph', 'extra_specs': {'volume_backend_name': 'ceph'}}})


def set_quotas(pid):
    s.put(f'/os-quota-sets/{pid}', endpoint_filter=NOVA, json={'quota_set': NOVA_QUOTA})
    s.put(f'/os-quota-sets/{pid}', endpoint_filter=CINDER, json={'quota_set': CINDER_QUOTA})
    s.put(f'/v2.0/quotas/{pid}', endpoint_filter=NEUTRON, json={'quota': NEUTRON_QUOTA})


def ensure_image():
    images = s.get('/v2/images?name=lab-tiny', endpoint_filter=GLANCE).json()['images']
    if any(i['status'] == 'active' for i in images):
        return
    for i in images:  # a half-created leftover (e.g. interrupted upload)
        s.delete(f'/v2/images/{i["id"]}', endpoint_filter=GLANCE)
    img = s.post('/v2/images', endpoint_filter=GLANCE, json={
        'name': 'lab-tiny', 'disk_format': 'raw', 'container_format': 'bare',
        'visibility': 'public', 'min_disk': 0, 'min_ram': 0}).json()
    data = hashlib.sha256(b'ferry-lab').digest() * 32768  # 1 MiB
    s.put(f'/v2/images/{img["id"]}/file', endpoint_filter=GLANCE, data=data,
          headers={'Content-Type': 'application/octet-stream'})


wait_services()
r = subprocess.run(['nova-manage', '--config-file', nova_conf, 'cell_v2', 'discover_hosts'],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
if r.returncode != 0:
    sys.exit(f'nova-manage cell_v2 discover_hosts failed:\n{r.stdout}')
ensure_flavor('1', 'm1.tiny', 1, 512, 1)
ensure_flavor('2', 'm1.small', 1, 2048, 10)
ensure_volume_type()
for project in ('admin', 'demo'):
    set_quotas(project_id(project))
ensure_image()
print(f'site {ip}: compute mapped, flavors, volume type, quotas (admin, demo), image lab-tiny')
