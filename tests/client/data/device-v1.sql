-- A device database made by the first release (schema_version 1), dumped with iterdump.
-- tests/client/test_device_migrations.py upgrades it. Never edit it: it is the past.
BEGIN TRANSACTION;
CREATE TABLE "conflict" ("id" VARCHAR(64) NOT NULL PRIMARY KEY, "record_type" VARCHAR(20) NOT NULL, "record_id" VARCHAR(36) NOT NULL, "field" VARCHAR(64) NOT NULL, "kept" TEXT NOT NULL, "other" TEXT NOT NULL, "reported_ms" INTEGER NOT NULL, "open" INTEGER NOT NULL);
CREATE TABLE "device_state" ("id" INTEGER NOT NULL PRIMARY KEY, "server_url" TEXT, "device_id" VARCHAR(64), "device_name" TEXT, "user" TEXT, "workspace" TEXT, "last_stamp" VARCHAR(100), "cursor" TEXT, "last_sync_ms" INTEGER, "max_acked" VARCHAR(100), "restamp_needed" INTEGER NOT NULL, "schema_version" INTEGER NOT NULL);
INSERT INTO "device_state" VALUES(1,'http://127.0.0.1:9','dev-first','平板','{"username":"wang","display_name":"王芳"}','{"id":"w1","name":"庄泉社区"}','1780000002000-000000-dev-first','MTplcG9jaDox',NULL,NULL,0,1);
CREATE TABLE "outbox_entry" ("seq" INTEGER NOT NULL PRIMARY KEY, "record_type" VARCHAR(20) NOT NULL, "record_id" VARCHAR(36) NOT NULL, "field" VARCHAR(64) NOT NULL, "value" TEXT, "stamp" VARCHAR(100) NOT NULL, "base" VARCHAR(100));
INSERT INTO "outbox_entry" VALUES(1,'place','01a24296-aa94-7078-9cd5-06d058692bca','kind','"compound"','1780000000000-000003-dev-first',NULL);
INSERT INTO "outbox_entry" VALUES(2,'place','01a24296-aa94-7078-9cd5-06d058692bca','name','"百盛家园"','1780000000000-000003-dev-first',NULL);
INSERT INTO "outbox_entry" VALUES(3,'concern','01a24296-aa95-7329-9350-2f57fa3740b3','title','"污水管破裂"','1780000001000-000000-dev-first',NULL);
INSERT INTO "outbox_entry" VALUES(4,'concern','01a24296-aa95-7329-9350-2f57fa3740b3','place_id','"01a24296-aa94-7078-9cd5-06d058692bca"','1780000001000-000000-dev-first',NULL);
INSERT INTO "outbox_entry" VALUES(5,'concern','01a24296-aa97-7a9a-9a75-acabea35f341','title','"路灯不亮"','1780000002000-000000-dev-first',NULL);
CREATE TABLE "push_batch" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "body" BLOB NOT NULL, "size" INTEGER NOT NULL, "record_ids" TEXT NOT NULL, "device_time" VARCHAR(100) NOT NULL, "created_ms" INTEGER NOT NULL);
INSERT INTO "push_batch" VALUES('01a24296-aa96-72e5-b0ff-e0079a73c114',X'1F8B08003C18136B00FF9D91D16A83301486DF25D71E88D118F555C628C71857995AA9B130C49BBDC5F06665D72B1B945DEE6D5AF7188B1666DB75632C901092FF9C7C7FFE8644A8E57C96C62424D446E6B2C00344B308A63844344940512A02148EB46D97582456AB54AA994E73658A6CE1D371D866C26107460249BAACB491CB391637AA22E15543F45D39D494194A65AEBEBDEA82A0C28740C61CA81753EE7B018B241A6DA534091B729B1606B5212BCCEAA1955CE4E5A2366746A1312F8F890696039173421461654A8B3ACB5A8B1438D8981AF60FEF7DD7ED366FBBEEF99F4DDBD6FAB22A178554CBE292590EC26101040EA7C0122E1274844B236732AB539D9DC0ED5FD7FB976DBF59F78FDB8FA7FB4B7C530CF467D3630063E893F1E3F47FCBE1FC97FFF060DB5EB79FB06738C66A020000',2,'["01a24296-aa94-7078-9cd5-06d058692bca","01a24296-aa95-7329-9350-2f57fa3740b3"]','1780000001000-000001-dev-first',1780000001000);
CREATE TABLE "record" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "type" VARCHAR(20) NOT NULL, "fields" TEXT NOT NULL, "stamps" TEXT NOT NULL, "deleted" INTEGER NOT NULL, "meta" TEXT NOT NULL, "search" TEXT NOT NULL, "updated_ms" INTEGER NOT NULL);
INSERT INTO "record" VALUES('0190f5a0-0000-7000-8000-000000000001','party','{"kind":"resident","name":"张秀英","phone":"13812341234"}','{"kind":"1779999995000-000000-office-1","name":"1779999995000-000000-office-1","phone":"1779999995000-000000-office-1"}',0,'{"workspace_id":"w1"}','resident
张秀英
13812341234',1779999995000);
INSERT INTO "record" VALUES('01a24296-aa94-7078-9cd5-06d058692bca','place','{"kind":"compound","name":"百盛家园"}','{"kind":"1780000000000-000003-dev-first","name":"1780000000000-000003-dev-first"}',0,'{}','compound
百盛家园',1780000000000);
INSERT INTO "record" VALUES('01a24296-aa95-7329-9350-2f57fa3740b3','concern','{"title":"污水管破裂","place_id":"01a24296-aa94-7078-9cd5-06d058692bca"}','{"title":"1780000001000-000000-dev-first","place_id":"1780000001000-000000-dev-first"}',0,'{}','污水管破裂',1780000001000);
INSERT INTO "record" VALUES('01a24296-aa97-7a9a-9a75-acabea35f341','concern','{"title":"路灯不亮"}','{"title":"1780000002000-000000-dev-first"}',0,'{}','路灯不亮',1780000002000);
CREATE TABLE "rejection" ("id" INTEGER NOT NULL PRIMARY KEY, "batch_id" VARCHAR(36) NOT NULL, "record_type" VARCHAR(20) NOT NULL, "record_id" VARCHAR(36) NOT NULL, "values" TEXT NOT NULL, "bases" TEXT NOT NULL, "errors" TEXT NOT NULL, "created_ms" INTEGER NOT NULL, "fixed_ms" INTEGER);
CREATE INDEX "conflict_record_id" ON "conflict" ("record_id");
CREATE UNIQUE INDEX "outbox_entry_record_id_field" ON "outbox_entry" ("record_id", "field");
CREATE INDEX "record_type" ON "record" ("type");
CREATE INDEX "record_updated_ms" ON "record" ("updated_ms");
CREATE INDEX "rejection_record_id" ON "rejection" ("record_id");
COMMIT;
