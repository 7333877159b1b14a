#!/usr/bin/python3
"""ks_setup.py: idempotently fill one site's Keystone, in one process (about
40 `openstack` CLI calls would cost about 2 s each on this CPU).

Creates: project 'service' with one user per OpenStack service (roles admin and
service), the catalog (public, internal and admin endpoints in RegionOne), the
'heat' domain with its domain admin and the roles Heat expects, project and
user 'demo' (member + heat_stack_owner), and project and user 'backup' (member)
that the cinder-backup swift driver of both sites uses at site B.

usage: ks_setup.py SITE_IP SERVICE_PASSWORD ADMIN_PASSWORD DEMO_PASSWORD BACKUP_PASSWORD
"""
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

ip, svc_pass, admin_pass, demo_pass, backup_pass = sys.argv[1:6]
REGION = 'RegionOne'

auth = v3.Password(auth_url=f'http://{ip}:5000/v3', username='admin',
                   password=admin_pass, project_name='admin',
                   user_domain_id='default', project_domain_id='default')
ks = client.Client(session=session.Session(auth=auth), interface='public')


def one(items):
    return items[0] if items else None


def ensure_project(name, domain='default', desc=''):
    return (one(ks.projects.list(name=name, domain=domain))
            or ks.projects.create(name, domain, description=desc))


def ensure_role(name):
    return one(ks.roles.list(name=name)) or ks.roles.create(name)


def ensure_user(name, password, domain='default', project=None):
    user = one(ks.users.list(name=name, domain=domain))
    if user:
        ks.users.update(user, password=password)
        return user
    return ks.users.create(name, domain=domain, password=password,
                           default_project=project)


def grant(role, user, project=None, domain=None):
    ks.roles.grant(role, user=user, project=project, domain=domain)


service_project = ensure_project('service', desc='service users')
admin_role = ensure_role('admin')
member_role = ensure_role('member')
ensure_role('reader')
service_role = ensure_role('service')

# name, type, description, port, path
SERVICES = [
    ('glance', 'image', 'Image', 9292, ''),
    ('placement', 'placement', 'Placement', 8778, ''),
    ('nova', 'compute', 'Compute', 8774, '/v2.1'),
    ('neutron', 'network', 'Networking', 9696, ''),
    ('cinderv3', 'volumev3', 'Block Storage v3', 8776, '/v3/%(project_id)s'),
    ('cinder', 'block-storage', 'Block Storage', 8776, '/v3/%(project_id)s'),
    ('heat', 'orchestration', 'Orchestration', 8004, '/v1/%(tenant_id)s'),
    ('swift', 'object-store', 'Object Storage', 8080, '/v1/AUTH_%(project_id)s'),
]
for u in ('glance', 'placement', 'nova', 'neutron', 'cinder', 'heat', 'swift'):
    user = ensure_user(u, svc_pass, project=service_project)
    grant(admin_role, user, project=service_project)
    grant(service_role, user, project=service_project)

for name, stype, desc, port, path in SERVICES:
    svc = one(ks.services.list(type=stype)) or ks.services.create(name, stype, description=desc)
    url = f'http://{ip}:{port}{path}'
    existing = {e.interface: e for e in ks.endpoints.list(service=svc, region=REGION)}
    for iface in ('public', 'internal', 'admin'):
        if iface in existing:
            if existing[iface].url != url:
                ks.endpoints.update(existing[iface], url=url)
        else:
            ks.endpoints.create(svc, url, interface=iface, region=REGION)

# Heat: stack-user domain, its admin, and the roles heat checks for.
stack_owner = ensure_role('heat_stack_owner')
ensure_role('heat_stack_user')
heat_domain = (one(ks.domains.list(name='heat'))
               or ks.domains.create('heat', description='Heat stack projects and users'))
grant(admin_role, ensure_user('heat_domain_admin', svc_pass, domain=heat_domain),
      domain=heat_domain)

# The tenant a DR engine protects: a plain member.
demo = ensure_project('demo', desc='demo tenant')
demo_user = ensure_user('demo', demo_pass, project=demo)
grant(member_role, demo_user, project=demo)
grant(stack_owner, demo_user, project=demo)
# admin may act inside demo too (handy for tests that inspect the tenant)
grant(admin_role, one(ks.users.list(name='admin', domain='default')), project=demo)

# Backup store account (LAB_BACKUP_STORE=swift uses it at site B; harmless elsewhere).
backup = ensure_project('backup', desc='cinder-backup swift store of both sites')
grant(member_role, ensure_user('backup', backup_pass, project=backup), project=backup)
print(f'keystone at {ip}: catalog, service users, demo and backup ready')
