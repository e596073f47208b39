// The replica set and the database users of deploy/compose/mongo-replica-set.yml, run by
// its one-shot `mongo-init` job:
//
//   mongosh --nodb --quiet --norc /phananh/mongo-init.js
//
// Safe to run again at every `docker compose up`; each step is skipped or repeated
// harmlessly:
//   1. initiates the replica set MONGO_REPLICA_SET with the members MONGO_REPLICA_SET_MEMBERS
//      (from the first member, the one holding the root account), unless it is initiated;
//   2. waits until the set has a primary;
//   3. creates the collections, roles and users of the access file (MONGO_ACCESS_FILE,
//      deploy/compose/mongo-access.json): a missing one is created, an existing role gets the
//      file's privileges again, an existing user the file's roles and the password .env
//      holds now (so changing a password in .env and running the job again rotates it).
//
// It signs in as the root account (MONGO_ROOT_USER, MONGO_ROOT_PASSWORD) and exits non-zero,
// saying why, when anything fails: the services, which wait for this job to complete, then
// do not start. Shell methods are called only from plain loops and functions, never from
// callbacks (mongosh cannot wait inside those).

const { readFileSync } = require("fs");

const NOT_YET_INITIALIZED = 94;
const ALREADY_INITIALIZED = 23;
const NAMESPACE_EXISTS = 48;
const PRIMARY_WAIT_SECONDS = 120;

function setting(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`mongo-init: ${name} is not set`);
  }
  return value;
}

function password(name) {
  const value = setting(name);
  if (value.includes("change-me")) {
    throw new Error(`mongo-init: ${name} still holds the placeholder 'change-me': set it in .env`);
  }
  return value;
}

const replicaSet = setting("MONGO_REPLICA_SET");
const members = setting("MONGO_REPLICA_SET_MEMBERS").split(",").map((host) => host.trim());
const access = JSON.parse(readFileSync(setting("MONGO_ACCESS_FILE"), "utf8"));
const root = `${encodeURIComponent(setting("MONGO_ROOT_USER"))}:${encodeURIComponent(password("MONGO_ROOT_PASSWORD"))}`;
// Every password is checked before anything changes.
const passwords = {};
for (const { passwordEnv } of access.users) {
  passwords[passwordEnv] = password(passwordEnv);
}

// The replica set's status, or null while it is not initiated. mongosh throws a failed
// command as an error; a result with ok: 0 is treated the same way.
function replicaSetStatus(admin) {
  let result;
  try {
    result = admin.runCommand({ replSetGetStatus: 1 });
  } catch (error) {
    result = error;
  }
  if (Number(result.ok) === 1) {
    return result;
  }
  if (result.code === NOT_YET_INITIALIZED) {
    return null;
  }
  throw new Error(`mongo-init: replSetGetStatus failed: ${result.errmsg || result.message}`);
}

function initiate(admin) {
  if (replicaSetStatus(admin) !== null) {
    print(`replica set ${replicaSet} is initiated`);
    return;
  }
  const config = { _id: replicaSet, members: members.map((host, index) => ({ _id: index, host })) };
  try {
    admin.runCommand({ replSetInitiate: config });
  } catch (error) {
    if (error.code !== ALREADY_INITIALIZED) {
      throw error;
    }
  }
  print(`replica set ${replicaSet} initiated with ${members.join(", ")}`);
}

function waitForPrimary(admin) {
  let lastError = null;
  for (let second = 0; second < PRIMARY_WAIT_SECONDS; second += 1) {
    try {
      const status = replicaSetStatus(admin);
      const primary = status && status.members.find((member) => member.stateStr === "PRIMARY");
      if (primary) {
        return primary.name;
      }
    } catch (error) {
      lastError = error; // the set may still be electing: ask again
    }
    sleep(1000);
  }
  const why = lastError ? ` (last error: ${lastError.message})` : "";
  throw new Error(`mongo-init: replica set ${replicaSet} has no primary after ${PRIMARY_WAIT_SECONDS} s${why}`);
}

function ensureCollections(client) {
  for (const { db: name, collection } of access.collections) {
    const database = client.getSiblingDB(name);
    if (database.getCollectionNames().includes(collection)) {
      continue;
    }
    try {
      database.createCollection(collection);
    } catch (error) {
      if (error.code !== NAMESPACE_EXISTS) {
        throw error;
      }
    }
    print(`collection ${name}.${collection} created`);
  }
}

function ensureRoles(client) {
  for (const { db: name, role, roles, privileges } of access.roles) {
    const database = client.getSiblingDB(name);
    if (database.getRole(role)) {
      database.updateRole(role, { roles, privileges });
      print(`role ${name}.${role} updated`);
    } else {
      database.createRole({ role, roles, privileges });
      print(`role ${name}.${role} created`);
    }
  }
}

function ensureUsers(client) {
  for (const { db: name, user, passwordEnv, roles } of access.users) {
    const database = client.getSiblingDB(name);
    const pwd = passwords[passwordEnv];
    if (database.getUser(user)) {
      database.updateUser(user, { pwd, roles });
      print(`user ${user} (${name}) updated`);
    } else {
      database.createUser({ user, pwd, roles });
      print(`user ${user} (${name}) created`);
    }
  }
}

// 1-2: on the first member directly (the set cannot be reached as a set before it exists).
const first = new Mongo(`mongodb://${root}@${members[0]}/?directConnection=true&authSource=admin`);
initiate(first.getDB("admin"));
print(`primary: ${waitForPrimary(first.getDB("admin"))}`);

// 3: through the set, so every write goes to the primary and waits for a majority.
const replica = new Mongo(
  `mongodb://${root}@${members.join(",")}/?replicaSet=${replicaSet}&authSource=admin&w=majority`,
);
const cluster = replica.getDB("admin");
ensureCollections(cluster);
ensureRoles(cluster);
ensureUsers(cluster);
print(`mongo-init: replica set ${replicaSet} and ${access.users.length} users are ready`);
