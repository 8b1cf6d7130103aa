package integration_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// product is the model the GORM tests migrate and work on.
type product struct {
	ID        uint
	Code      string `gorm:"uniqueIndex;not null"`
	Price     int
	Stock     int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// gormConfig keeps GORM quiet: its default logger prints slow queries.
func gormConfig() *gorm.Config {
	return &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)}
}

// GORM's postgres dialector opens pgx unless told otherwise; DriverName
// makes it open the lakebase driver with the same DSN.
func TestGORMDriverName(t *testing.T) {
	t.Parallel()
	kit := newRotatingKit(t)

	db, err := gorm.Open(postgres.New(postgres.Config{DriverName: "lakebase", DSN: kit.DSNs().M2M}), gormConfig())
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	// No idle connections: every operation logs in anew, so every
	// credential the workspace mints is used for logins.
	sqlDB.SetMaxIdleConns(0)

	exerciseGORM(t, db)
	checkRotated(t, kit, runWorkload(t, gormWorkload(db)))
}

// An application that already has a *sql.DB made from a lakebase.Connector
// hands it to GORM as the connection pool, and still names the driver: see
// TestGORMExistingDBNeedsDriverName.
func TestGORMExistingDB(t *testing.T) {
	t.Parallel()
	kit := newRotatingKit(t)

	cfg, err := lakebase.ParseDSN(kit.DSNs().M2M)
	if err != nil {
		t.Fatal(err)
	}
	connector, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB := sql.OpenDB(connector)
	defer sqlDB.Close() // closes the connector too
	// Connections retire after a second, so new ones keep logging in with
	// whatever credential is current.
	sqlDB.SetConnMaxLifetime(time.Second)

	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB, DriverName: "lakebase"}), gormConfig())
	if err != nil {
		t.Fatal(err)
	}

	exerciseGORM(t, db)
	checkRotated(t, kit, runWorkload(t, gormWorkload(db)))
	if s := connector.Stats(); s.CredentialsMinted < 2 || s.MintFailures != 0 {
		t.Errorf("connector stats: %d minted, %d mint failures; want at least 2 and none", s.CredentialsMinted, s.MintFailures)
	}
}

// With Conn and no DriverName, GORM's postgres dialector takes the pool for
// pgx's and, when AutoMigrate reads an existing table's columns, passes pgx's
// query mode as an extra argument, which no other driver accepts. If this
// test fails because the migration succeeded, GORM has fixed it and the
// advice in docs/INTEGRATIONS.md can be relaxed.
func TestGORMExistingDBNeedsDriverName(t *testing.T) {
	t.Parallel()
	kit := lakebasetest.New(t, lakebasetest.Options{})
	sqlDB := openDB(t, kit.DSNs().M2M)

	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), gormConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&product{}); err != nil {
		t.Fatalf("first AutoMigrate, which creates the table: %v", err)
	}
	err = db.AutoMigrate(&product{})
	if err == nil || !strings.Contains(err.Error(), "parameters") {
		t.Fatalf("second AutoMigrate without DriverName: %v; want lib/pq's complaint about the extra parameter", err)
	}
}

// exerciseGORM migrates the model and checks each kind of operation once:
// create, query, update, a committed and a rolled-back transaction.
func exerciseGORM(t *testing.T, db *gorm.DB) {
	t.Helper()
	if err := db.AutoMigrate(&product{}); err != nil {
		t.Fatalf("AutoMigrate: %v", err)
	}
	if !db.Migrator().HasTable(&product{}) || !db.Migrator().HasIndex(&product{}, "Code") {
		t.Fatal("AutoMigrate did not create the table and its index")
	}
	// A second AutoMigrate reads the live schema and finds nothing to do.
	if err := db.AutoMigrate(&product{}); err != nil {
		t.Fatalf("second AutoMigrate: %v", err)
	}

	p := product{Code: "first", Price: 100, Stock: 1}
	if err := db.Create(&p).Error; err != nil {
		t.Fatalf("Create: %v", err)
	}
	if p.ID == 0 {
		t.Fatal("Create did not fill the ID from RETURNING")
	}
	if err := db.Model(&p).Update("price", 150).Error; err != nil {
		t.Fatalf("Update: %v", err)
	}
	var got product
	if err := db.Where("code = ?", "first").First(&got).Error; err != nil {
		t.Fatalf("First: %v", err)
	}
	if got.ID != p.ID || got.Price != 150 {
		t.Fatalf("First: got %+v, want ID %d with price 150", got, p.ID)
	}

	errAbort := errors.New("abort")
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&product{Code: "rolled-back"}).Error; err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Transaction: %v, want the callback's error", err)
	}
	var n int64
	if err := db.Model(&product{}).Where("code = ?", "rolled-back").Count(&n).Error; err != nil || n != 0 {
		t.Fatalf("after a rolled-back transaction: count %d, err %v; want 0, nil", n, err)
	}
	if err := db.Unscoped().Where("code LIKE ?", "%").Delete(&product{}).Error; err != nil {
		t.Fatalf("Delete: %v", err)
	}
}

// gormWorkload returns one round of the model's life: create, query, update
// and a transaction that moves stock between two products.
func gormWorkload(db *gorm.DB) func(ctx context.Context, worker, i int) error {
	return func(ctx context.Context, worker, i int) error {
		db := db.WithContext(ctx)
		code := fmt.Sprintf("w%d-%d", worker, i)
		p := product{Code: code, Price: i, Stock: 10}
		if err := db.Create(&p).Error; err != nil {
			return fmt.Errorf("create: %w", err)
		}
		var got product
		if err := db.First(&got, "code = ?", code).Error; err != nil {
			return fmt.Errorf("query: %w", err)
		}
		if err := db.Model(&got).Update("price", i+1).Error; err != nil {
			return fmt.Errorf("update: %w", err)
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			other := product{Code: code + "-b", Stock: 0}
			if err := tx.Create(&other).Error; err != nil {
				return err
			}
			if err := tx.Model(&got).Update("stock", gorm.Expr("stock - ?", 1)).Error; err != nil {
				return err
			}
			return tx.Model(&other).Update("stock", gorm.Expr("stock + ?", 1)).Error
		})
		if err != nil {
			return fmt.Errorf("transaction: %w", err)
		}
		var stock int
		if err := db.Model(&product{}).Select("stock").Where("code = ?", code).Scan(&stock).Error; err != nil {
			return fmt.Errorf("query after transaction: %w", err)
		}
		if stock != 9 {
			return fmt.Errorf("stock after transaction: %d, want 9", stock)
		}
		return nil
	}
}
